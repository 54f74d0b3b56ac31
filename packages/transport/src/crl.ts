/**
 * Re-reading the deployment CA's CRL while a server runs (issue 13): `watchCrl` checks the CRL file
 * every `intervalMs` and, when its bytes change, puts the new CRL into every TLS material of the server
 * (in place: the WebSocket dials, which build their options from the material at each dial, use it
 * from then on), gives each mTLS server a new secure context (new handshakes checked against it) and
 * closes the open connections whose client certificate the CRL lists, updates each HTTPS agent and
 * destroys its pooled sockets (the next request handshakes again and refuses a revoked server), and
 * drops its WebSocket links, which are dialled again (a revoked server at the other end is refused
 * then; sessions in flight on a dropped link fail once). A file that is not a CRL signed by the
 * deployment CA (ECDSA or RSA with SHA-256/384/512) is ignored (`onEvent` "invalid"), the old CRL
 * staying in force.
 */
import type https from "node:https";
import { verify as verifySignature, X509Certificate } from "node:crypto";
import { readFileSync, existsSync } from "node:fs";
import { createSecureContext, type TLSSocket } from "node:tls";
import { mtlsServerOptions, type TlsMaterial } from "./tls.ts";

export interface CrlWatch {
  /** Checks the file now (tests; the timer does the same). True when a new CRL was applied. */
  check(): boolean;
  stop(): void;
}

export interface CrlWatchOptions {
  /** every TLS material of this server (server and client certificates), updated in place */
  materials: TlsMaterial[];
  /** the mTLS servers built from `materials[i]` (pairs: server, the material it was built from) */
  servers?: { server: https.Server; tls: TlsMaterial }[];
  agents?: https.Agent[];
  /** WebSocket links this server dialled or accepted (WsTransport, RpcClient): dropped and dialled again */
  links?: { redial(): void }[];
  intervalMs?: number;
  onEvent?(e: { type: "reloaded" | "invalid"; bytes: number }): void;
}

export function watchCrl(path: string, o: CrlWatchOptions): CrlWatch {
  let current = existsSync(path) ? readFileSync(path) : undefined;
  const open = new Set<TLSSocket>();
  for (const { server } of o.servers ?? []) {
    server.on("secureConnection", (s: TLSSocket) => {
      open.add(s);
      s.once("close", () => open.delete(s));
    });
  }
  const check = (): boolean => {
    if (!existsSync(path)) return false;
    const next = readFileSync(path);
    if (current && next.equals(current)) return false;
    let revoked: Set<string>;
    try {
      const ca = o.materials[0]?.ca;
      createSecureContext({ ca, crl: next });
      revoked = revokedSerials(next, ca);
    } catch {
      o.onEvent?.({ type: "invalid", bytes: next.length });
      return false;
    }
    current = next;
    for (const m of o.materials) m.crl = next;
    for (const { server, tls } of o.servers ?? []) server.setSecureContext(mtlsServerOptions(tls));
    for (const s of open) if (revoked.has(s.getPeerCertificate().serialNumber?.toUpperCase() ?? "")) s.destroy();
    for (const a of o.agents ?? []) {
      (a.options as { crl?: Buffer }).crl = next;
      a.destroy(); // pooled sockets; the agent makes new ones
    }
    for (const l of o.links ?? []) l.redial();
    o.onEvent?.({ type: "reloaded", bytes: next.length });
    return true;
  };
  const timer = setInterval(check, o.intervalMs ?? 30_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

// ------------------------------------------------------------------ a CRL's revoked serials (DER)

type Tlv = { tag: number; start: number; body: number; end: number };

function tlv(b: Buffer, at: number): Tlv {
  const tag = b[at];
  let len = b[at + 1];
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new Error("CRL: bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[body + i];
    body += n;
  }
  if (body + len > b.length) throw new Error("CRL: truncated DER");
  return { tag, start: at, body, end: body + len };
}

function children(b: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = t.body; at < t.end; ) {
    const c = tlv(b, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

const HASH_OF: Record<string, string> = {
  "2a8648ce3d040302": "sha256", // ecdsa-with-SHA256
  "2a8648ce3d040303": "sha384",
  "2a8648ce3d040304": "sha512",
  "2a864886f70d01010b": "sha256", // sha256WithRSAEncryption
  "2a864886f70d01010c": "sha384",
  "2a864886f70d01010d": "sha512",
};

/**
 * The serial numbers (upper-case hex, as node's `serialNumber`) a PEM CRL lists, after checking its
 * signature with the CA certificate's key. Throws on anything else.
 */
export function revokedSerials(pem: Buffer | string, ca: Buffer | string | undefined): Set<string> {
  const m = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(pem.toString());
  if (!m || !ca) throw new Error("CRL: expected a PEM X509 CRL and the CA certificate");
  const der = Buffer.from(m[1].replace(/\s+/g, ""), "base64");
  const [tbs, alg, sig] = children(der, tlv(der, 0));
  const oid = children(der, alg)[0];
  const hash = HASH_OF[der.subarray(oid.body, oid.end).toString("hex")];
  if (!hash || sig.tag !== 0x03) throw new Error("CRL: unsupported signature algorithm");
  const ok = verifySignature(hash, der.subarray(tbs.start, tbs.end), new X509Certificate(ca).publicKey, der.subarray(sig.body + 1, sig.end));
  if (!ok) throw new Error("CRL: not signed by the deployment CA");
  const serials = new Set<string>();
  const fields = children(der, tbs);
  let i = fields[0].tag === 0x02 ? 1 : 0; // version
  i += 3; // signature, issuer, thisUpdate
  if (fields[i] && (fields[i].tag === 0x17 || fields[i].tag === 0x18)) i++; // nextUpdate
  if (fields[i] && fields[i].tag === 0x30) {
    for (const entry of children(der, fields[i])) {
      const serial = children(der, entry)[0];
      let hex = der.subarray(serial.body, serial.end).toString("hex").toUpperCase();
      while (hex.startsWith("00") && hex.length > 2) hex = hex.slice(2);
      serials.add(hex);
    }
  }
  return serials;
}
