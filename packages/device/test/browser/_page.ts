/**
 * Browser entry bundled by esbuild for the browser test: captures one frame from the (fake) camera,
 * runs the face engine in the page, and builds the sealed, signed request body with the SDK.
 */
import { createFaceEngine } from "../../src/engine.ts";
import { buildFaceRequest, type ChallengeResponse } from "../../src/request.ts";
import { captureFrame, openCamera } from "../../src/browser.ts";
import { fromBase64url, generateSealKeyPair, generateSigningKeyPair, toBase64url } from "@privface/crypto";

declare global {
  interface Window {
    runDevice(opts: { challenge: ChallengeResponse; roots: { P0: string; P1: string } }): Promise<unknown>;
  }
}

window.runDevice = async ({ challenge, roots }) => {
  const engine = await createFaceEngine({ modelBaseUrl: "/models/", wasmPaths: "/ort/", livenessThreshold: 0 });
  const cam = await openCamera({ width: 640, height: 480 });
  const frame = captureFrame(cam.video);
  cam.stop();
  const r = await engine.processFrame(frame.data, frame.width, frame.height);
  if (!r.ok) return { ok: false, error: r.error, width: frame.width, height: frame.height };
  const key = await generateSigningKeyPair("INTL");
  const authKey = await generateSealKeyPair("INTL");
  const root = (b: string) => ({ suite: "INTL" as const, kind: "sign" as const, publicKey: fromBase64url(b) });
  const body = await buildFaceRequest({
    deviceId: "browser-till", personId: "p-1", purpose: "verify", challenge, embedding: r.embedding,
    liveness: r.liveness, modelVersion: engine.model.version, signingKey: key,
    authKey, trust: { roots: { P0: root(roots.P0), P1: root(roots.P1) }, seen: {} },
  });
  return { ok: true, width: frame.width, height: frame.height, embedding: Array.from(r.embedding), body, devicePublicKey: toBase64url(key.publicKey) };
};
