// The browser's image decoder in place of sharp (the package's "browser" build uses this file). The page's
// own codecs decode through createImageBitmap — no colour management, no premultiplication, no EXIF rotation,
// as PIL.Image.open — and an OffscreenCanvas gives the RGBA pixels; BMP by Pillow's rules, PIL's pixel
// limit and convert("RGB") are the Node path's code. The pixels are read through WebGL with unpremultiplied
// uploads, so a transparent pixel keeps its colour as PIL's convert("RGB") keeps it; without WebGL a 2D
// canvas is used, which stores premultiplied alpha: there a translucent pixel's colour can change (a fully
// transparent one becomes black). Opaque images decode to sharp's pixels either way.
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
interface Gl {
  readonly TEXTURE_2D: number;
  readonly RGBA: number;
  readonly RGBA8: number;
  readonly UNSIGNED_BYTE: number;
  readonly FRAMEBUFFER: number;
  readonly COLOR_ATTACHMENT0: number;
  readonly FRAMEBUFFER_COMPLETE: number;
  readonly UNPACK_PREMULTIPLY_ALPHA_WEBGL: number;
  readonly UNPACK_COLORSPACE_CONVERSION_WEBGL: number;
  readonly NONE: number;
  createTexture(): unknown;
  bindTexture(target: number, t: unknown): void;
  pixelStorei(name: number, value: number | boolean): void;
  texImage2D(...a: unknown[]): void;
  createFramebuffer(): unknown;
  bindFramebuffer(target: number, f: unknown): void;
  framebufferTexture2D(...a: unknown[]): void;
  checkFramebufferStatus(target: number): number;
  readPixels(x: number, y: number, w: number, h: number, format: number, type: number, out: Uint8Array): void;
  deleteTexture(t: unknown): void;
  deleteFramebuffer(f: unknown): void;
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
  ) => {
    getContext(kind: "2d", options: { colorSpace: "srgb"; willReadFrequently: true }): Canvas2d | null;
    getContext(kind: "webgl2", options: { premultipliedAlpha: false }): Gl | null;
  };
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
    const data = webglPixels(bitmap) ?? canvasPixels(bitmap, where); // RGBA, row-major
    return rawToRgb({ data, width, height, channels: 4 }, file);
  } finally {
    bitmap.close();
  }
}

/** One WebGL2 context for every decode (a page gets only a few); null where there is none. */
let glContext: Gl | null | undefined;

/** The bitmap's RGBA bytes as stored (unpremultiplied) through a WebGL2 texture; undefined without WebGL2. */
function webglPixels(bitmap: Bitmap): Uint8Array | undefined {
  const { width, height } = bitmap;
  glContext ??= new page.OffscreenCanvas!(1, 1).getContext("webgl2", { premultipliedAlpha: false });
  const gl = glContext;
  if (!gl) return undefined;
  const texture = gl.createTexture();
  const framebuffer = gl.createFramebuffer();
  try {
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    // e.g. an image larger than the GPU's texture limit: the 2D canvas takes it.
    if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) return undefined;
    const out = new Uint8Array(width * height * 4);
    // Texture row 0 is the image's top row (no flip on upload), and readPixels starts at row 0.
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, out);
    return out;
  } finally {
    gl.deleteFramebuffer(framebuffer);
    gl.deleteTexture(texture);
  }
}

/** The bitmap's RGBA bytes through a 2D canvas (premultiplied inside: translucent colours may change). */
function canvasPixels(bitmap: Bitmap, where: string): Uint8ClampedArray {
  const { width, height } = bitmap;
  const ctx = new page.OffscreenCanvas!(width, height).getContext("2d", {
    colorSpace: "srgb",
    willReadFrequently: true,
  });
  if (!ctx) throw new DataError("cannot decode image: no 2D canvas context", where, undefined, "no_decoder");
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, width, height).data;
}
