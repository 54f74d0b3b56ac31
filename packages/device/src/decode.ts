/**
 * `@privface/device/decode` — image files to RGBA frames in Node (JPEG via jpeg-js, PNG via pngjs),
 * for the command line, tests and benchmarks. The SDK itself takes frames as RGBA pixels (a browser
 * gets them from a canvas); this module is not part of a browser bundle.
 */
import { readFile } from "node:fs/promises";

export interface RgbaImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export async function decodeImageFile(path: string): Promise<RgbaImage> {
  return decodeImage(new Uint8Array(await readFile(path)));
}

export async function decodeImage(bytes: Uint8Array): Promise<RgbaImage> {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const jpeg = (await import("jpeg-js")).default;
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
    return { data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length), width: img.width, height: img.height };
  }
  if (bytes[0] === 0x89 && bytes[1] === 0x50) {
    const { PNG } = await import("pngjs");
    const png = PNG.sync.read(Buffer.from(bytes));
    return { data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length), width: png.width, height: png.height };
  }
  throw new TypeError("decodeImage: bytes are neither JPEG nor PNG");
}
