// Decode an image with sharp into 8-bit RGB exactly as PIL's `Image.open(f).convert("RGB")` would give it:
// alpha dropped (not composited), palette looked up, grey replicated, 16-bit reduced the way Pillow does.
import { readFile } from "node:fs/promises";
import { DataError } from "@llava-ts/core";
import sharp from "sharp";
import type { RgbImage } from "./rgb-image.js";

/** Raw, already-decoded pixels: 1 = L, 2 = LA, 3 = RGB, 4 = RGBA, row-major and interleaved. */
export interface RawImage {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/** A file path, the bytes of an encoded image (Buffer is a Uint8Array), or raw pixels. */
export type ImageInput = string | Uint8Array | RawImage;

/** Decode any `ImageInput` to RGB; undecodable or truncated images throw a `DataError` naming the file. */
export async function decodeImage(input: ImageInput): Promise<RgbImage> {
  if (typeof input === "string") {
    let bytes: Buffer;
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new DataError(`cannot read image: ${(e as Error).message}`, input, undefined, "unreadable");
    }
    return decodeEncoded(bytes, input);
  }
  if (input instanceof Uint8Array) return decodeEncoded(input);
  return rawToRgb(input);
}

/** PIL's convert("RGB") on interleaved 8-bit pixels: drop alpha, replicate grey. */
export function rawToRgb(raw: RawImage, file?: string): RgbImage {
  const { data, width, height, channels } = raw;
  const n = width * height;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new DataError(`image size must be positive integers, got ${width}x${height}`, file);
  if (![1, 2, 3, 4].includes(channels))
    throw new DataError(`raw image must have 1-4 channels, got ${channels}`, file);
  if (data.length !== n * channels)
    throw new DataError(
      `raw image of ${width}x${height}x${channels} needs ${n * channels} bytes, got ${data.length}`,
      file,
    );
  const out = new Uint8Array(n * 3);
  if (channels === 3) {
    out.set(data);
    return { data: out, width, height };
  }
  const grey = channels <= 2;
  for (let i = 0, p = 0, o = 0; i < n; i++, p += channels, o += 3) {
    out[o] = data[p];
    out[o + 1] = data[grey ? p : p + 1];
    out[o + 2] = data[grey ? p : p + 2];
  }
  return { data: out, width, height };
}

// failOn "truncated" makes libvips reject images that end early (PIL raises "Truncated File Read")
// while still accepting the recoverable warnings PIL also accepts. PIL ignores ICC profiles.
const SHARP_OPTIONS = { failOn: "truncated", ignoreIcc: true, autoOrient: true } as const;

async function decodeEncoded(bytes: Uint8Array, file?: string): Promise<RgbImage> {
  const where = file ?? `<${bytes.length}-byte buffer>`;
  try {
    const meta = await sharp(bytes, SHARP_OPTIONS).metadata();
    const sixteen = meta.depth === "ushort";
    const grey = meta.space === "b-w" || meta.space === "grey16";
    let pipeline = sharp(bytes, SHARP_OPTIONS);
    // Keep libvips from converting to sRGB itself: grey and CMYK are converted below the way PIL does.
    if (meta.space === "cmyk") pipeline = pipeline.toColourspace("cmyk");
    else if (grey) pipeline = pipeline.toColourspace(sixteen ? "grey16" : "b-w");
    else if (sixteen) pipeline = pipeline.toColourspace("rgb16");
    const { data, info } = await pipeline
      .raw(sixteen ? { depth: "ushort" } : undefined)
      .toBuffer({ resolveWithObject: true });
    const channels = info.channels as 1 | 2 | 3 | 4;
    let pixels: Uint8Array;
    if (sixteen) {
      const words = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
      pixels = new Uint8Array(words.length);
      // Pillow opens 16-bit grey as "I;16", whose convert("RGB") clamps to 255; every other
      // 16-bit PNG mode is unpacked by keeping the high byte.
      if (grey && !meta.hasAlpha) for (let i = 0; i < words.length; i++) pixels[i] = Math.min(words[i], 255);
      else for (let i = 0; i < words.length; i++) pixels[i] = words[i] >> 8;
    } else {
      pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    }
    if (meta.space === "cmyk") return cmykToRgb(pixels, info.width, info.height);
    return rawToRgb({ data: pixels, width: info.width, height: info.height, channels }, file);
  } catch (e) {
    if (e instanceof DataError) throw e;
    const reason = (e as Error).message;
    throw new DataError(`cannot decode image: ${reason}`, where, undefined, reason);
  }
}

/** Pillow's cmyk2rgb (no colour management): channel = (255 - k) - round((255 - k) * c / 255). */
function cmykToRgb(cmyk: Uint8Array, width: number, height: number): RgbImage {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[i * 4 + c] * nk + 128; // MULDIV255
      out[i * 3 + c] = nk - (((t >> 8) + t) >> 8);
    }
  }
  return { data: out, width, height };
}
