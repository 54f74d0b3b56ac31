/**
 * One Party-API contract, two implementations: the real parties (both @privface/party apps in one
 * process, in-memory transport, a local dealer) and the gateway's fake parties (a plaintext twin).
 */
import { generateSealKeyPair, generateSigningKeyPair } from "@privface/crypto";
import { createFakeParties } from "../src/fake-parties.ts";
import { startInProcParties } from "../src/inproc-parties.ts";
import { partyApiContract } from "./_party-api-contract.ts";

partyApiContract("real parties (in process)", async () => {
  const h = await startInProcParties();
  await h.fill(80);
  return { clients: h.clients, keys: h.keys, setDown: h.setDown, close: h.close };
});

partyApiContract("fake parties", async () => {
  const seal = { P0: await generateSealKeyPair("INTL"), P1: await generateSealKeyPair("INTL") };
  const gateway = await generateSigningKeyPair("INTL");
  const fake = createFakeParties({ keys: seal, gatewayKey: { suite: gateway.suite, publicKey: gateway.publicKey } });
  return {
    clients: fake.clients,
    keys: { gateway, P0: { suite: "INTL", publicKey: seal.P0.publicKey }, P1: { suite: "INTL", publicKey: seal.P1.publicKey } },
    setDown: (p, down) => void (down ? fake.down.add(p) : fake.down.delete(p)),
    async close() {},
  };
});
