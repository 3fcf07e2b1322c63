// BMP, which sharp (libvips) cannot read and PIL can: Pillow's BmpImagePlugin + convert("RGB") for the
// layouts it reads — Windows headers (40 to 124 bytes) and OS/2 v1 (12), 1/4/8-bit palettes (plain, RLE8,
// RLE4), 16/24/32-bit pixels, and the bit-field layouts Pillow knows. Alpha is dropped, as convert("RGB") does.
import { DataError } from "@llava-ts/core";
import type { RgbImage } from "./rgb-image.js";

/** Whether the bytes start like a BMP file ("BM"). */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;

// The bit-field masks (R, G, B, A for 32 bits; R, G, B otherwise) Pillow reads; any other is an error there.
const BITFIELD_LAYOUTS: Record<number, readonly (readonly number[])[]> = {
  32: [
    [0xff0000, 0xff00, 0xff, 0x0],
    [0xff000000, 0xff0000, 0xff00, 0x0],
    [0xff000000, 0xff00, 0xff, 0x0],
    [0xff000000, 0xff0000, 0xff00, 0xff],
    [0xff, 0xff00, 0xff0000, 0xff000000],
    [0xff0000, 0xff00, 0xff, 0xff000000],
    [0xff000000, 0xff00, 0xff, 0xff0000],
    [0x0, 0x0, 0x0, 0x0],
  ],
  24: [[0xff0000, 0xff00, 0xff]],
  16: [
    [0xf800, 0x7e0, 0x1f],
    [0x7c00, 0x3e0, 0x1f],
  ],
};

/** Decodes a BMP to RGB as `PIL.Image.open(f).convert("RGB")` does; a DataError naming `where` otherwise. */
export function decodeBmp(bytes: Uint8Array, where: string, maxPixels: number): RgbImage {
  const fail = (message: string): never => {
    throw new DataError(`cannot decode image: BMP ${message}`, where, undefined, "undecodable_image");
  };
  if (bytes.length < 26) fail("file is truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const os2 = headerSize === 12;
  if (!os2 && ![40, 52, 56, 64, 108, 124].includes(headerSize))
    fail(`header of ${headerSize} bytes is not supported`);
  if (bytes.length < 14 + headerSize) fail("file is truncated");
  const width = os2 ? view.getUint16(18, true) : view.getInt32(18, true);
  const rawHeight = os2 ? view.getInt16(22, true) : view.getInt32(22, true);
  const bits = view.getUint16(os2 ? 24 : 28, true);
  const compression = os2 ? BI_RGB : view.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width < 1 || height < 1) fail(`size ${width}×${rawHeight} is not a picture`);
  checkPixels(width, height, maxPixels, where);
  if (![1, 4, 8, 16, 24, 32].includes(bits)) fail(`pixel depth ${bits} is not supported`);

  // 16/32-bit pixels without bit fields are BGR;15 and BGRX; the masks follow the 40-byte header's fields.
  let masks: number[] | undefined = bits === 16 ? [0x7c00, 0x3e0, 0x1f] : undefined;
  if (compression === BI_BITFIELDS) {
    if (bytes.length < 14 + 40 + 12) fail("file is truncated");
    const alpha = headerSize >= 56 ? view.getUint32(14 + 40 + 12, true) : 0;
    masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
    if (bits === 32) masks.push(alpha);
    const known = BITFIELD_LAYOUTS[bits]?.some((m) => m.every((v, i) => v === masks![i]));
    if (!known)
      fail(`bit-field layout ${masks.map((m) => `0x${m.toString(16)}`).join(", ")} is not supported`);
    // All-zero masks Pillow reads as BGRA; 24-bit bit fields have one layout, BGR.
    if (bits === 24 || masks.every((m) => m === 0)) masks = undefined;
  } else if (![BI_RGB, BI_RLE8, BI_RLE4].includes(compression))
    fail(`compression ${compression} is not supported`);

  let palette: Uint8Array | undefined;
  if (bits <= 8) {
    const entry = os2 ? 3 : 4;
    const declared = os2 ? 0 : view.getUint32(46, true);
    const colours = declared || 1 << bits;
    if (colours > 65536) fail(`palette of ${colours} colours is not supported`);
    const start = 14 + headerSize;
    if (bytes.length < start + colours * entry) fail("palette is truncated");
    palette = new Uint8Array(256 * 3); // indices past the palette read as black
    for (let i = 0; i < Math.min(colours, 256); i++) {
      palette[3 * i] = bytes[start + i * entry + 2];
      palette[3 * i + 1] = bytes[start + i * entry + 1];
      palette[3 * i + 2] = bytes[start + i * entry];
    }
    if (offset === start) offset += colours * entry;
  }

  const out = new Uint8Array(width * height * 3);
  const imageRow = (y: number) => (topDown ? y : height - 1 - y); // file row → image row
  const setIndex = (o: number, index: number) => {
    out[o] = palette![3 * index];
    out[o + 1] = palette![3 * index + 1];
    out[o + 2] = palette![3 * index + 2];
  };
  if (compression === BI_RLE8 || compression === BI_RLE4) {
    if (!palette || bits !== (compression === BI_RLE8 ? 8 : 4)) fail(`RLE with ${bits} bits per pixel`);
    const indices = decodeRle(bytes, offset, width, height, compression === BI_RLE4);
    if (indices.length < width * height) fail("RLE data is truncated");
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) setIndex(3 * (imageRow(y) * width + x), indices[y * width + x]);
    return { data: out, width, height };
  }
  const stride = ((width * bits + 31) >> 3) & ~3;
  if (offset + stride * height > bytes.length) fail("pixel data is truncated");
  for (let y = 0; y < height; y++) {
    const row = offset + y * stride;
    const outRow = imageRow(y) * width * 3;
    for (let x = 0; x < width; x++) {
      const o = outRow + 3 * x;
      if (palette) {
        const bit = x * bits;
        setIndex(o, (bytes[row + (bit >> 3)] >> (8 - bits - (bit & 7))) & ((1 << bits) - 1));
      } else if (!masks) {
        const q = row + x * (bits / 8); // BGR, BGRX
        out[o] = bytes[q + 2];
        out[o + 1] = bytes[q + 1];
        out[o + 2] = bytes[q];
      } else {
        const q = row + x * (bits / 8);
        const v = bits === 16 ? view.getUint16(q, true) : view.getUint32(q, true);
        for (let c = 0; c < 3; c++) out[o + c] = fromMask(v, masks[c]);
      }
    }
  }
  return { data: out, width, height };
}

/** A channel under `mask`, scaled to 0–255 as Pillow's unpackers do (n-bit value · 255 / (2ⁿ − 1), floored). */
function fromMask(v: number, mask: number): number {
  const shift = Math.log2(mask & -mask);
  const max = mask / 2 ** shift; // 2ⁿ − 1
  const value = Math.floor(v / 2 ** shift) & max;
  return max === 255 ? value : Math.floor((value * 255) / max);
}

/**
 * Palette indices of an RLE8/RLE4 bitmap in file row order, decoded as Pillow's BmpRleDecoder does: runs
 * are clipped at the row's end, an absolute run of n RLE4 pixels reads n/2 bytes (rounded down), and
 * pixels the runs skip are 0. Stops at the end of the bitmap, the data, or width × height pixels.
 */
function decodeRle(
  bytes: Uint8Array,
  start: number,
  width: number,
  height: number,
  four: boolean,
): Uint8Array {
  const total = width * height;
  const data = new Uint8Array(total);
  let n = 0; // pixels written
  let x = 0;
  let p = start;
  const push = (v: number) => {
    if (n < total) data[n] = v;
    n++;
  };
  while (n < total && p + 1 < bytes.length) {
    const count = bytes[p];
    const byte = bytes[p + 1];
    p += 2;
    if (count > 0) {
      const run = Math.min(count, Math.max(0, width - x));
      for (let i = 0; i < run; i++) push(four ? (i % 2 === 0 ? byte >> 4 : byte & 15) : byte);
      x += run;
    } else if (byte === 0) {
      while (n % width !== 0) push(0); // end of line
      x = 0;
    } else if (byte === 1) break;
    else if (byte === 2) {
      if (p + 1 >= bytes.length) break;
      const skip = bytes[p] + bytes[p + 1] * width;
      p += 2;
      for (let i = 0; i < skip; i++) push(0);
      x = n % width;
    } else {
      const length = four ? byte >> 1 : byte;
      const available = Math.min(length, bytes.length - p);
      for (let i = 0; i < available; i++) {
        if (four) {
          push(bytes[p + i] >> 4);
          push(bytes[p + i] & 15);
        } else push(bytes[p + i]);
      }
      p += available;
      if (available < length) break;
      x += byte;
      if (p % 2 !== 0) p++; // word-aligned in the file
    }
  }
  return n >= total ? data : data.subarray(0, n);
}

/** PIL's decompression-bomb check, with the limit given: `width × height` above it is refused unread. */
export function checkPixels(width: number, height: number, maxPixels: number, where: string): void {
  if (maxPixels > 0 && width * height > maxPixels)
    throw new DataError(
      `image is ${width}×${height} = ${(width * height).toLocaleString("en-US")} pixels, more than the limit of ${maxPixels.toLocaleString("en-US")} (where PIL raises DecompressionBombError; LLAVA_MAX_IMAGE_PIXELS sets it, 0 = no limit)`,
      where,
      undefined,
      "image_too_large",
    );
}
