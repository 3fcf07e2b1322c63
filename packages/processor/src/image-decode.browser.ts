// The browser's image decoder in place of sharp (the package's "browser" build uses this file). The page's
// own codecs decode through createImageBitmap — no colour management, no premultiplication, no EXIF rotation,
// as PIL.Image.open — and an OffscreenCanvas gives the RGBA pixels; BMP by Pillow's rules, PIL's pixel
// limit and convert("RGB") are the Node path's code. One difference: a 2D canvas stores premultiplied
// alpha, so the colour of a translucent pixel (alpha < 255) can be off by a few levels; opaque images
// decode exactly as sharp decodes them.
import { DataError } from "@llava-ts/core";
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

// The parts of the DOM used here (the project's TypeScript lib has no DOM types).
interface Bitmap {
  readonly width: number;
  readonly height: number;
  close(): void;
}
interface Canvas2d {
  drawImage(image: Bitmap, x: number, y: number): void;
  getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
}
interface Browser {
  createImageBitmap?(
    image: Blob,
    options: {
      premultiplyAlpha: "none";
      colorSpaceConversion: "none";
      imageOrientation: "none" | "from-image";
    },
  ): Promise<Bitmap>;
  OffscreenCanvas?: new (
    w: number,
    h: number,
  ) => { getContext(kind: "2d", options: { colorSpace: "srgb"; willReadFrequently: true }): Canvas2d | null };
}
const page = globalThis as unknown as Browser;

/** Decode any `ImageInput` to RGB; a string is fetched as a URL. Undecodable images throw a `DataError`. */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<RgbImage> {
  const o = decodeDefaults(options);
  if (typeof input === "string") {
    let bytes: Uint8Array;
    try {
      const res = await fetch(input);
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw new DataError(`cannot read image: ${(e as Error).message}`, input, undefined, "unreadable");
    }
    return decodeEncoded(bytes, o, input);
  }
  if (input instanceof Uint8Array) return decodeEncoded(input, o);
  if (input instanceof Blob) return decodeEncoded(new Uint8Array(await input.arrayBuffer()), o);
  return rawToRgb(input);
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
  if (!page.createImageBitmap || !page.OffscreenCanvas)
    throw new DataError(
      "cannot decode image: this environment has neither sharp (Node) nor createImageBitmap and OffscreenCanvas",
      where,
      undefined,
      "no_decoder",
    );
  let bitmap: Bitmap;
  try {
    bitmap = await page.createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), {
      premultiplyAlpha: "none",
      colorSpaceConversion: "none",
      imageOrientation: o.exifTranspose ? "from-image" : "none",
    });
  } catch (e) {
    const reason = (e as Error).message || "the browser cannot decode it";
    throw new DataError(`cannot decode image: ${reason}`, where, undefined, reason);
  }
  try {
    const { width, height } = bitmap;
    // Decoded before its size is known (no header parse here), but refused before its pixels are copied.
    checkPixels(width, height, o.maxPixels, where);
    const ctx = new page.OffscreenCanvas(width, height).getContext("2d", {
      colorSpace: "srgb",
      willReadFrequently: true,
    });
    if (!ctx)
      throw new DataError("cannot decode image: no 2D canvas context", where, undefined, "no_decoder");
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, width, height); // RGBA, row-major
    return rawToRgb({ data, width, height, channels: 4 }, file);
  } finally {
    bitmap.close();
  }
}
