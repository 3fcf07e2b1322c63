// What both image decoders share (sharp under Node, the browser's own decoder in a page): the inputs, the
// pixel limit, and PIL's convert("RGB") on decoded pixels.
import { ConfigError, DataError } from "@llava-ts/core";
import { envVar } from "@llava-ts/files";
import type { RgbImage } from "./rgb-image.js";

/** Raw, already-decoded pixels: 1 = L, 2 = LA, 3 = RGB, 4 = RGBA, row-major and interleaved. */
export interface RawImage {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/**
 * A file path (Node) or URL (browser), the bytes of an encoded image (Buffer is a Uint8Array), a Blob (a
 * File from an <input>), or raw pixels.
 */
export type ImageInput = string | Uint8Array | Blob | RawImage;

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
  const env = envVar("LLAVA_MAX_IMAGE_PIXELS");
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
    exifTranspose: options.exifTranspose ?? envVar("LLAVA_EXIF_TRANSPOSE") === "1",
  };
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

/** Text that starts with "<" (after a BOM and blanks) is SVG or other XML, not an image PIL opens. */
export function looksLikeXml(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && i < 4096 && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[i])) i++;
  return bytes[i] === 0x3c;
}
