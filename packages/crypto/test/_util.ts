import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export function loadVectors<T>(name: string): T[] {
  const path = fileURLToPath(new URL(`./vectors/${name}`, import.meta.url));
  return (JSON.parse(readFileSync(path, "utf8")) as { vectors: T[] }).vectors;
}

export const H = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"));
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
