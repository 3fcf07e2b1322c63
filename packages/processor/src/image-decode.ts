// Decode an image with sharp into 8-bit RGB as PIL's `Image.open(f).convert("RGB")` gives it: alpha dropped
// (not composited), palette looked up, grey replicated, 16-bit reduced and CMYK converted the way Pillow
// does, EXIF orientation not applied (PIL.Image.open does not; ImageOps.exif_transpose is the option), BMP
// read by Pillow's rules (bmp-decode.ts), SVG refused (PIL cannot open it), and PIL's decompression-bomb
// limit on the pixel count checked from the header before anything is decoded.
import { readFile } from "node:fs/promises";
import { ConfigError, DataError } from "@llava-ts/core";
import sharp from "sharp";
import { checkPixels, decodeBmp, isBmp } from "./bmp-decode.js";
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

/**
 * The pixel count above which PIL refuses an image (DecompressionBombError): twice its
 * `Image.MAX_IMAGE_PIXELS` (1024³ // 4 // 3 = 89,478,485, above which it only warns).
 */
export const MAX_IMAGE_PIXELS = 178_956_970;

export interface DecodeOptions {
  /**
   * Images with more pixels are refused (a `DataError`, reason "image_too_large") from their header, before
   * decoding; 0 = no limit. Default: the LLAVA_MAX_IMAGE_PIXELS environment variable, else PIL's limit.
   */
  maxPixels?: number;
  /** Turn the image upright by its EXIF orientation, as ImageOps.exif_transpose; default LLAVA_EXIF_TRANSPOSE=1. */
  exifTranspose?: boolean;
}

/** The options with their defaults from the environment (which worker threads and processes share). */
export function decodeDefaults(options: DecodeOptions = {}): Required<DecodeOptions> {
  let maxPixels = options.maxPixels;
  const env = process.env.LLAVA_MAX_IMAGE_PIXELS;
  if (maxPixels === undefined && env !== undefined && env !== "") {
    maxPixels = Number(env);
    if (!Number.isSafeInteger(maxPixels) || maxPixels < 0)
      throw new ConfigError(
        `LLAVA_MAX_IMAGE_PIXELS must be an integer ≥ 0, got "${env}"`,
        "LLAVA_MAX_IMAGE_PIXELS",
      );
  }
  return {
    maxPixels: maxPixels ?? MAX_IMAGE_PIXELS,
    exifTranspose: options.exifTranspose ?? process.env.LLAVA_EXIF_TRANSPOSE === "1",
  };
}

/** Decode any `ImageInput` to RGB; undecodable or truncated images throw a `DataError` naming the file. */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<RgbImage> {
  if (typeof input === "string") {
    let bytes: Buffer;
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new DataError(`cannot read image: ${(e as Error).message}`, input, undefined, "unreadable");
    }
    return decodeEncoded(bytes, decodeDefaults(options), input);
  }
  if (input instanceof Uint8Array) return decodeEncoded(input, decodeDefaults(options));
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
function sharpOptions(o: Required<DecodeOptions>) {
  return {
    failOn: "truncated",
    ignoreIcc: true,
    autoOrient: o.exifTranspose,
    limitInputPixels: o.maxPixels > 0 ? o.maxPixels : false,
  } as const;
}

/** Text that starts with "<" (after a BOM and blanks) is SVG or other XML, not an image PIL opens. */
function looksLikeXml(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && i < 4096 && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[i])) i++;
  return bytes[i] === 0x3c;
}

async function decodeEncoded(
  bytes: Uint8Array,
  o: Required<DecodeOptions>,
  file?: string,
): Promise<RgbImage> {
  const where = file ?? `<${bytes.length}-byte buffer>`;
  if (isBmp(bytes)) return decodeBmp(bytes, where, o.maxPixels);
  if (looksLikeXml(bytes))
    throw new DataError(
      "cannot decode image: SVG / XML is not a raster format PIL opens (rasterise it first)",
      where,
      undefined,
      "undecodable_image",
    );
  const options = sharpOptions(o);
  try {
    const meta = await sharp(bytes, { ...options, limitInputPixels: false }).metadata();
    if (meta.width !== undefined && meta.height !== undefined)
      checkPixels(meta.width, meta.height, o.maxPixels, where);
    const sixteen = meta.depth === "ushort";
    const grey = meta.space === "b-w" || meta.space === "grey16";
    let pipeline = sharp(bytes, options);
    // Keep libvips from converting to sRGB itself: grey and CMYK are converted below the way PIL does.
    // CMYK must stay CMYK through the pipeline: toColourspace alone goes via sRGB and back (up to 57/255 off).
    if (meta.space === "cmyk") pipeline = pipeline.pipelineColourspace("cmyk").toColourspace("cmyk");
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
