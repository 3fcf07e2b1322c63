// transformers' CLIPImageProcessor (models/clip/image_processing_clip.py, 4.46) on sharp + a Pillow-exact
// resampler: convert RGB → resize shortest edge → centre crop → rescale → normalise, output CHW float32.
// Plus LLaVA-1.5's "pad" mode (expand2square with the mean colour before the same pipeline).

import { ConfigError, ShapeError } from "@llava-ts/core";
import { type FolderSource, isHttpUrl, type ModelFolder, nodeBuiltin, toModelFolder } from "@llava-ts/files";
import * as tf from "@tensorflow/tfjs-core";
import { centerCrop } from "./center-crop.js";
import {
  type ClipImageProcessorConfig,
  parseClipImageProcessorConfig,
} from "./clip-image-processor-config.js";
import { expandToSquare, meanColour } from "./expand-to-square.js";
import { decodeImage } from "./image-decode.js";
import type { DecodeOptions, ImageInput } from "./image-input.js";
import { resize } from "./resize.js";
import type { RgbImage } from "./rgb-image.js";

// The package's index re-exports this file: these are the processor's public companions.
export {
  type ClipImageProcessorConfig,
  parseClipImageProcessorConfig,
  type SizeConfig,
} from "./clip-image-processor-config.js";
export { decodeImage } from "./image-decode.js";
export {
  type DecodeOptions,
  decodeDefaults,
  type ImageInput,
  MAX_IMAGE_PIXELS,
  type RawImage,
} from "./image-input.js";
export type { RgbImage } from "./rgb-image.js";

/** "crop": CLIPImageProcessor as is. "pad": LLaVA-1.5's image_aspect_ratio "pad" (no content cropped). */
export type PreprocessMode = "crop" | "pad";

export interface PreprocessOptions extends DecodeOptions {
  readonly mode?: PreprocessMode;
}

/** One image's `pixel_values`: float32, CHW. */
export interface PixelValues {
  readonly data: Float32Array; // [3, H, W]
  readonly shape: readonly [3, number, number];
}

export class ClipImageProcessor {
  private constructor(readonly config: ClipImageProcessorConfig) {}

  /**
   * From a model folder (reads `preprocessor_config.json`) — a path, an http(s) URL, a ModelFolder or files
   * in memory — or the path of the JSON file itself.
   */
  static async fromPretrained(source: FolderSource): Promise<ClipImageProcessor> {
    const name = "preprocessor_config.json";
    let folder: ModelFolder;
    let fileName = name;
    if (typeof source === "string" && !isHttpUrl(source)) {
      const { stat } = nodeBuiltin("node:fs/promises", `reading ${source}`);
      const { basename, dirname } = nodeBuiltin("node:path", `reading ${source}`);
      const isFile = await stat(source).then(
        (s) => !s.isDirectory(),
        () => false,
      );
      folder = toModelFolder(isFile ? dirname(source) : source);
      if (isFile) fileName = basename(source);
    } else folder = toModelFolder(source);
    const file = folder.describe(fileName);
    let text: string;
    try {
      text = await folder.text(fileName);
    } catch (e) {
      throw new ConfigError(`cannot read preprocessor config: ${(e as Error).message}`, undefined, file);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`invalid JSON: ${(e as Error).message}`, undefined, file);
    }
    return new ClipImageProcessor(parseClipImageProcessorConfig(json, file));
  }

  /** From the parsed contents of a `preprocessor_config.json`. */
  static fromConfig(json: unknown): ClipImageProcessor {
    return new ClipImageProcessor(parseClipImageProcessorConfig(json));
  }

  /** Decode (file path, encoded bytes or raw pixels) and preprocess one image. */
  async preprocess(input: ImageInput, options: PreprocessOptions = {}): Promise<PixelValues> {
    return this.preprocessRgb(await decodeImage(input, options), options);
  }

  /** Preprocess an already decoded RGB image (synchronous: the CPU-bound part). */
  preprocessRgb(image: RgbImage, options: PreprocessOptions = {}): PixelValues {
    const c = this.config;
    const mode = options.mode ?? "crop";
    if (mode !== "crop" && mode !== "pad")
      throw new RangeError(`mode must be "crop" or "pad", got "${mode}"`);
    let img = image;
    if (mode === "pad") img = expandToSquare(img, meanColour(c.image_mean));
    if (img.height === 3) img = asTransformersReadsIt(img);
    if (c.do_resize) {
      const [height, width] = outputSize(img.height, img.width, c.size);
      img = resize(img, width, height, c.resample);
    }
    if (c.do_center_crop) img = centerCrop(img, c.crop_size.height, c.crop_size.width);
    return { data: toChw(img, c), shape: [3, img.height, img.width] };
  }

  /**
   * Preprocess a batch into `pixel_values` [B, 3, H, W]; the caller owns (and disposes) the tensor.
   * Images are decoded a few at a time: sharp works on libuv's thread pool while we resample.
   */
  async preprocessBatch(
    inputs: readonly ImageInput[],
    options: PreprocessOptions = {},
  ): Promise<tf.Tensor4D> {
    if (inputs.length === 0) throw new RangeError("preprocessBatch: no images given");
    const results: PixelValues[] = new Array(inputs.length);
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) {
        const i = next++;
        results[i] = await this.preprocess(inputs[i], options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, inputs.length) }, worker));
    const [, h, w] = results[0].shape;
    const data = new Float32Array(inputs.length * 3 * h * w);
    results.forEach((r, i) => {
      if (r.shape[1] !== h || r.shape[2] !== w)
        throw new ShapeError(
          `preprocessBatch: image ${i} gives [${r.shape}], image 0 gives [3,${h},${w}]; enable do_center_crop or use size {height, width}`,
          [3, h, w],
          [...r.shape],
        );
      data.set(r.data, i * 3 * h * w);
    });
    return tf.tensor4d(data, [inputs.length, 3, h, w]); // [B, 3, H, W]
  }
}

/**
 * transformers' get_resize_output_image_size: shortest_edge keeps the aspect ratio with the long side
 * `int(size * long / short)` (truncation); {height, width} is exact. Returns [height, width].
 */
export function outputSize(
  height: number,
  width: number,
  size: ClipImageProcessorConfig["size"],
): [number, number] {
  if (!("shortest_edge" in size)) return [size.height, size.width];
  const s = size.shortest_edge;
  if (width <= height) return [Math.trunc((s * height) / width), s];
  return [s, Math.trunc((s * width) / height)];
}

/**
 * transformers infers the channel axis from the array shape, and an H×W×3 array with H = 3 is taken as
 * channels-first (infer_channel_dimension_format checks the first axis first): rows become channels,
 * columns rows, channels columns. Reproduced so that such images match HF's pixel values.
 */
function asTransformersReadsIt(img: RgbImage): RgbImage {
  const { width } = img; // height is 3
  const out = new Uint8Array(width * 9); // [width, 3, 3]: (row = old x, col = old channel, channel = old y)
  for (let y = 0; y < 3; y++)
    for (let x = 0; x < width; x++)
      for (let ch = 0; ch < 3; ch++) out[(x * 3 + ch) * 3 + y] = img.data[(y * width + x) * 3 + ch];
  return { data: out, width: 3, height: width };
}

/** HWC uint8 → CHW float32 through a per-channel lookup table of rescale + normalise. */
function toChw(img: RgbImage, c: ClipImageProcessorConfig): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(plane * 3); // [3, H, W]
  for (let ch = 0; ch < 3; ch++) {
    const lut = new Float32Array(256);
    // float32 arithmetic as numpy does it: rescale (float64 → float32), then (x - mean) / std.
    const mean = Math.fround(c.image_mean[ch]);
    const std = Math.fround(c.image_std[ch]);
    for (let v = 0; v < 256; v++) {
      const x = c.do_rescale ? Math.fround(v * c.rescale_factor) : v;
      lut[v] = c.do_normalize ? Math.fround(Math.fround(x - mean) / std) : x;
    }
    const base = ch * plane;
    for (let i = 0; i < plane; i++) out[base + i] = lut[img.data[i * 3 + ch]];
  }
  return out;
}
