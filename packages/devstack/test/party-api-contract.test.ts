/**
 * One Party-API contract, two implementations: the real parties (both @privface/party apps in one
 * process, in-memory transport, a local dealer) and the gateway's fake parties (a plaintext twin).
 */
import { deploymentSuite } from "@privface/config";
import { generateSealKeyPair, generateSigningKeyPair } from "@privface/crypto";
import { createFakeParties } from "../src/fake-parties.ts";
import { newSimDevice, simRegistration } from "../src/gateway-sim.ts";
import { startInProcParties } from "../src/inproc-parties.ts";
import { partyApiContract } from "./_party-api-contract.ts";

partyApiContract("real parties (in process)", async () => {
  const h = await startInProcParties({ gallery: { epoch: 1 } });
  await h.fill(80);
  await Promise.all([h.galleries!.P0.build(), h.galleries!.P1.build()]);
  const galleryIdle = async () => void (await Promise.all([h.galleries!.P0.idle(), h.galleries!.P1.idle()]));
  return { clients: h.clients, keys: h.keys, roots: h.roots, setDown: h.setDown, galleryIdle, close: h.close };
});

partyApiContract("fake parties", async () => {
  const seal = { P0: await generateSealKeyPair(deploymentSuite()), P1: await generateSealKeyPair(deploymentSuite()) };
  const gateway = await generateSigningKeyPair(deploymentSuite());
  const fake = createFakeParties({ keys: seal, gatewayKey: { suite: gateway.suite, publicKey: gateway.publicKey } });
  const device = await newSimDevice();
  for (const p of ["P0", "P1"] as const) await fake.clients[p].registerDevice(simRegistration(device));
  return {
    clients: fake.clients,
    roots: await fake.roots(),
    keys: {
      gateway,
      P0: { suite: deploymentSuite(), publicKey: seal.P0.publicKey },
      P1: { suite: deploymentSuite(), publicKey: seal.P1.publicKey },
      device,
      nonce: { P0: async () => fake.issueNonce("P0"), P1: async () => fake.issueNonce("P1") },
    },
    setDown: (p, down) => void (down ? fake.down.add(p) : fake.down.delete(p)),
    async close() {},
  };
});
