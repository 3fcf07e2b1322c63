// Decode an image with sharp into 8-bit RGB as PIL's `Image.open(f).convert("RGB")` gives it: alpha dropped
// (not composited), palette looked up, grey replicated, 16-bit reduced and CMYK converted the way Pillow
// does, EXIF orientation not applied (PIL.Image.open does not; ImageOps.exif_transpose is the option), BMP
// read by Pillow's rules (bmp-decode.ts), SVG refused (PIL cannot open it), and PIL's decompression-bomb
// limit on the pixel count checked from the header before anything is decoded. The package's "browser"
// build swaps this file for image-decode.browser.ts.
import { DataError } from "@llava-ts/core";
import { nodeBuiltin } from "@llava-ts/files";
import sharp from "sharp";
import { checkPixels, decodeBmp, isBmp } from "./bmp-decode.js";
import {
  type DecodeOptions,
  decodeDefaults,
  type ImageInput,
  looksLikeXml,
  rawToRgb,
} from "./image-input.js";
import type { RgbImage } from "./rgb-image.js";

export {
  type DecodeOptions,
  decodeDefaults,
  type ImageInput,
  MAX_IMAGE_PIXELS,
  type RawImage,
  rawToRgb,
} from "./image-input.js";

/** Decode any `ImageInput` to RGB; undecodable or truncated images throw a `DataError` naming the file. */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<RgbImage> {
  if (typeof input === "string") {
    let bytes: Uint8Array;
    try {
      bytes = await nodeBuiltin("node:fs/promises", `reading the image ${input}`).readFile(input);
    } catch (e) {
      throw new DataError(`cannot read image: ${(e as Error).message}`, input, undefined, "unreadable");
    }
    return decodeEncoded(bytes, decodeDefaults(options), input);
  }
  if (input instanceof Uint8Array) return decodeEncoded(input, decodeDefaults(options));
  if (input instanceof Blob)
    return decodeEncoded(new Uint8Array(await input.arrayBuffer()), decodeDefaults(options));
  return rawToRgb(input);
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
