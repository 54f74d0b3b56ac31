/**
 * The gateway's party client (issue 12 item 9): it talks only to a server whose certificate names the
 * party it meant, and it combines nothing until each result share authenticates for exactly the
 * request it sent — a tampered share, a share from another session, the other party's answer, or an
 * answer without a MAC, or a dedup answer whose match list was changed, is refused with
 * RESULT_UNAUTHENTICATED. The party is a stub over the real
 * transport (mutual TLS, /v1/rpc) answering with the real result MAC (@privface/contracts).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RuntimeLayout } from "@privface/config";
import { PartyError, resultKey, resultMac, type DedupRequest, type PartyName, type ResultKey, type VerifyRequest } from "@privface/contracts";
import { readKeyPairFile, readPublicKeyFile, readTlsKey } from "@privface/crypto/node";
import { ensureRuntime, gatewayResultKey } from "@privface/devstack";
import { createMtlsServer, serveRpc, type AppRequest } from "@privface/transport";
import { createPartyClient } from "../src/party-client.ts";

type Mode = "good" | "flip" | "other-session" | "other-party" | "none" | "garbage";

describe("party client: result shares bound to the request, the party's role checked", () => {
  const home = mkdtempSync(join(tmpdir(), "privface-party-client-"));
  let L: RuntimeLayout;
  let partyKeys: Record<PartyName, ResultKey>;
  let mode: Mode = "good";
  let close: () => Promise<void>;
  let url: string;
  before(async () => {
    L = (await ensureRuntime(home)).layout;
    const gwPub = readPublicKeyFile(L.resultPub("gateway"));
    partyKeys = { P0: await resultKey(await readKeyPairFile(L.resultKey("p0")), gwPub, "P0"), P1: await resultKey(await readKeyPairFile(L.resultKey("p1")), gwPub, "P1") };
    // a stub P0 on the real transport: the gateway API over /v1/rpc, answering verify with a share and a MAC per `mode`
    const ca = readFileSync(L.ca);
    const server = createMtlsServer({ ca, cert: readFileSync(L.cert("p0").cert), key: readTlsKey(L.cert("p0").key) });
    const app = async (req: AppRequest) => {
      if (req.path === "/v1/dedup") {
        // a dedup answer with `matches` (ENROL_DEDUP=hold): the MAC covers them too
        const b = req.body as DedupRequest;
        const out = { session: b.session, resultShare: { duplicate: 1 as const }, gallery: 2, matches: { share: "Ag", templates: ["tpl_aaaaaaaaaaaaaaaa", "tpl_bbbbbbbbbbbbbbbb"] } };
        const tag = await resultMac(partyKeys.P0, { op: "dedup", party: "P0", session: b.session, templateId: b.templateId, authorisation: b.authorisation, resultShare: out.resultShare, matches: out.matches });
        const matches = mode === "flip" ? { ...out.matches, templates: [...out.matches.templates].reverse() } : out.matches;
        return { status: 200, body: { ...out, matches, resultMac: tag } };
      }
      const b = req.body as VerifyRequest;
      const resultShare = { valid: 1 as const, match: 1 as const };
      const binding = { op: "verify" as const, party: "P0" as PartyName, session: b.session, templateId: b.templateId, authorisation: b.authorisation, resultShare };
      let body: Record<string, unknown> = { session: b.session, resultShare, resultMac: await resultMac(partyKeys.P0, binding) };
      if (mode === "flip") body = { ...body, resultShare: { valid: 1, match: 0 } };
      if (mode === "other-session") body = { ...body, resultMac: await resultMac(partyKeys.P0, { ...binding, session: "S".repeat(22) }) };
      if (mode === "other-party") body = { ...body, resultMac: await resultMac(partyKeys.P1, { ...binding, party: "P1" }) };
      if (mode === "none") delete body.resultMac;
      if (mode === "garbage") body = { ...body, resultMac: { not: "a mac" } };
      return { status: 200, body };
    };
    const rpc = serveRpc(server, app, { roles: ["gateway"] });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      rpc.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    };
  });
  after(async () => {
    await close?.();
    rmSync(home, { recursive: true, force: true });
  });

  const request = (): VerifyRequest =>
    ({ session: "s".repeat(22), templateId: "t".repeat(22), modelVersion: "m", sealedShare: "x", context: {}, authorisation: { payload: "p", batch: "b", sig: "s" } }) as unknown as VerifyRequest;
  const tls = () => ({ ca: readFileSync(L.ca), cert: readFileSync(L.gatewayClient.cert), key: readTlsKey(L.gatewayClient.key) });

  it("an authenticated share is returned without its MAC; a tampered, moved or missing one → RESULT_UNAUTHENTICATED", async () => {
    const c = createPartyClient({ url, tls: tls(), party: "P0", resultKey: await gatewayResultKey(L, "P0") });
    try {
      mode = "good";
      assert.deepEqual(await c.verify(request()), { session: "s".repeat(22), resultShare: { valid: 1, match: 1 } });
      for (const m of ["flip", "other-session", "other-party", "none", "garbage"] as const) {
        mode = m;
        await assert.rejects(c.verify(request()), (e: unknown) => e instanceof PartyError && e.code === "RESULT_UNAUTHENTICATED", m);
      }
    } finally {
      c.close();
    }
  });

  it("a dedup answer's matches are bound by the MAC: the slots' template ids swapped in transit → RESULT_UNAUTHENTICATED", async () => {
    const c = createPartyClient({ url, tls: tls(), party: "P0", resultKey: await gatewayResultKey(L, "P0") });
    const req = { ...request(), matches: true } as unknown as DedupRequest;
    try {
      mode = "good";
      assert.deepEqual((await c.dedup(req)).matches?.templates, ["tpl_aaaaaaaaaaaaaaaa", "tpl_bbbbbbbbbbbbbbbb"]);
      mode = "flip";
      await assert.rejects(c.dedup(req), (e: unknown) => e instanceof PartyError && e.code === "RESULT_UNAUTHENTICATED");
    } finally {
      c.close();
    }
  });

  it("a server whose certificate names another party is refused (a P1 client pointed at P0)", async () => {
    mode = "good";
    const c = createPartyClient({ url, tls: tls(), party: "P1", resultKey: await gatewayResultKey(L, "P1") });
    try {
      await assert.rejects(c.verify(request()), (e: unknown) => e instanceof PartyError && e.code === "UNREACHABLE" && /role p0, expected p1/.test(e.message));
    } finally {
      c.close();
    }
  });
});
