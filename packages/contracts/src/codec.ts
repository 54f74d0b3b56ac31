/**
 * The one length-prefixed framing: items as `[u32 BE length][bytes]`, back to back. A link message
 * of @privface/transport carries its frames this way, and a pool batch (helper → party) its bundles.
 * `unpackItems` returns views into the input (copies with `copy`: aligned, independent buffers, as
 * stored pool items need) and throws RangeError when the lengths do not add up.
 */

export function packItems(items: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const it of items) size += 4 + it.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const it of items) {
    dv.setUint32(at, it.length);
    out.set(it, at + 4);
    at += 4 + it.length;
  }
  return out;
}

export function unpackItems(buf: Uint8Array, o: { maxItems?: number; copy?: boolean } = {}): Uint8Array[] {
  const maxItems = o.maxItems ?? Infinity;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < buf.length; ) {
    if (at + 4 > buf.length) throw new RangeError("items: truncated length");
    const len = dv.getUint32(at);
    if (at + 4 + len > buf.length) throw new RangeError(`items: length ${len} beyond the end`);
    if (out.length >= maxItems) throw new RangeError(`items: more than ${maxItems}`);
    const item = buf.subarray(at + 4, at + 4 + len);
    out.push(o.copy ? new Uint8Array(item) : item); // (a Buffer's slice() is a view, not a copy)
    at += 4 + len;
  }
  return out;
}
