/**
 * Bytes of the budget run's messages (budget.ts), in the header format of wire.ts with protocol byte 3:
 *   "PFM" | v u8 | protocol u8 = 3 | step u8 | from u8 | sessionLen u8 | seq u32be | session | 0-pad to 4 | body
 * Bodies: 1 convert: bundleId 16 B ‖ day, budget, runs, prevRuns, verifications (u32be each) ‖ c u8;
 *         2 compare: z u32be;  3 reveal: bit u8.
 * `decodeBudgetMessage` checks everything against what the receiver expects next and throws ProtocolError
 * BAD_MAGIC, BAD_VERSION, WRONG_PROTOCOL, WRONG_SESSION, WRONG_STEP, WRONG_SEQUENCE, WRONG_SENDER or
 * LENGTH_MISMATCH. A verify or enrol message is never a budget message (WRONG_PROTOCOL), nor the reverse.
 */
import { BUDGET_MESSAGE_VERSION, type BudgetCompareMsg, type BudgetConvMsg, type BudgetMessage, type BudgetRevealMsg } from "./budget.ts";
import { ProtocolError } from "./errors.ts";
import type { PartyName } from "./messages.ts";
import { checkSession, headerBytes } from "./wire.ts";

const PROTOCOL_BYTE = 3;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function budgetBodyBytes(step: number): number {
  switch (step) {
    case 1: return 16 + 20 + 1;
    case 2: return 4;
    case 3: return 1;
    default: throw new ProtocolError("WRONG_STEP", `budget has no step ${step}`);
  }
}

export function encodeBudgetMessage(msg: BudgetMessage): Uint8Array {
  checkSession(msg.session);
  const h = headerBytes(msg.session.length);
  const out = new Uint8Array(h + budgetBodyBytes(msg.step));
  out.set([0x50, 0x46, 0x4d, BUDGET_MESSAGE_VERSION, PROTOCOL_BYTE, msg.step, msg.from === "P0" ? 0 : 1, msg.session.length]);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, msg.seq);
  for (let i = 0; i < msg.session.length; i++) out[12 + i] = msg.session.charCodeAt(i);
  switch (msg.step) {
    case 1:
      for (let i = 0; i < 16; i++) out[h + i] = parseInt(msg.bundleId.slice(2 * i, 2 * i + 2), 16);
      [msg.day, msg.budget, msg.runs, msg.prevRuns, msg.verifications].forEach((x, i) => dv.setUint32(h + 16 + 4 * i, x));
      out[h + 36] = msg.c & 1;
      break;
    case 2:
      dv.setUint32(h, msg.z);
      break;
    case 3:
      out[h] = msg.bit & 1;
      break;
  }
  return out;
}

export interface BudgetExpect {
  readonly session: string;
  readonly step: number;
  readonly from: PartyName;
}

export function decodeBudgetMessage(bytes: Uint8Array, expect: BudgetExpect): BudgetMessage {
  if (!(bytes instanceof Uint8Array) || bytes.length < 12) throw new ProtocolError("LENGTH_MISMATCH", "message shorter than its header");
  if (bytes[0] !== 0x50 || bytes[1] !== 0x46 || bytes[2] !== 0x4d) throw new ProtocolError("BAD_MAGIC", "not a privface MPC message");
  if (bytes[3] !== BUDGET_MESSAGE_VERSION) throw new ProtocolError("BAD_VERSION", `expected version ${BUDGET_MESSAGE_VERSION}, got ${bytes[3]}`);
  if (bytes[4] !== PROTOCOL_BYTE) throw new ProtocolError("WRONG_PROTOCOL", `expected budget, got protocol byte ${bytes[4]}`);
  const step = bytes[5];
  const from: PartyName | undefined = bytes[6] === 0 ? "P0" : bytes[6] === 1 ? "P1" : undefined;
  const sl = bytes[7];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const seq = dv.getUint32(8);
  const h = headerBytes(sl);
  if (bytes.length < h) throw new ProtocolError("LENGTH_MISMATCH", "message shorter than its header");
  let same = sl === expect.session.length;
  for (let i = 0; same && i < sl; i++) same = bytes[12 + i] === expect.session.charCodeAt(i);
  if (!same) throw new ProtocolError("WRONG_SESSION", "message bound to another session");
  for (let i = 12 + sl; i < h; i++) if (bytes[i] !== 0) throw new ProtocolError("BAD_MAGIC", "non-zero header padding");
  if (step !== expect.step) throw new ProtocolError("WRONG_STEP", `expected step ${expect.step}, got ${step}`);
  if (seq !== step - 1) throw new ProtocolError("WRONG_SEQUENCE", `expected sequence ${step - 1}, got ${seq}`);
  if (from !== expect.from) throw new ProtocolError("WRONG_SENDER", `expected a message from ${expect.from}, got ${from ?? bytes[6]}`);
  const want = budgetBodyBytes(step);
  if (bytes.length - h !== want) throw new ProtocolError("LENGTH_MISMATCH", `step ${step} body: expected ${want} bytes, got ${bytes.length - h}`);
  const v = BUDGET_MESSAGE_VERSION;
  const session = expect.session;
  switch (step) {
    case 1: {
      let bundleId = "";
      for (let i = 0; i < 16; i++) bundleId += HEX[bytes[h + i]];
      const u = (i: number) => dv.getUint32(h + 16 + 4 * i);
      if (bytes[h + 36] > 1) throw new ProtocolError("LENGTH_MISMATCH", "c: expected 0 or 1");
      return { v, protocol: "budget", session, step: 1, seq, from, bundleId, day: u(0), budget: u(1), runs: u(2), prevRuns: u(3), verifications: u(4), c: bytes[h + 36] as 0 | 1 } satisfies BudgetConvMsg;
    }
    case 2: {
      const z = dv.getUint32(h);
      if (z >= 2 ** 16) throw new ProtocolError("LENGTH_MISMATCH", "z: expected an integer in [0, 2^16)");
      return { v, protocol: "budget", session, step: 2, seq, from, z } satisfies BudgetCompareMsg;
    }
    default: {
      if (bytes[h] > 1) throw new ProtocolError("LENGTH_MISMATCH", "bit: expected 0 or 1");
      return { v, protocol: "budget", session, step: 3, seq, from, bit: bytes[h] as 0 | 1 } satisfies BudgetRevealMsg;
    }
  }
}
