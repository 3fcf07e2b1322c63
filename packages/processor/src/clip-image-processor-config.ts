// preprocessor_config.json of transformers' CLIPImageProcessor: HF's keys, its defaults
// (models/clip/image_processing_clip.py), unknown keys ignored, nonsense rejected with key and value.
import { ConfigError } from "@llava-ts/core";
import type { ResampleFilter } from "./resize.js";

export type SizeConfig =
  | { readonly shortest_edge: number }
  | { readonly height: number; readonly width: number };

export interface ClipImageProcessorConfig {
  readonly do_resize: boolean;
  readonly size: SizeConfig;
  readonly resample: ResampleFilter;
  readonly do_center_crop: boolean;
  readonly crop_size: { readonly height: number; readonly width: number };
  readonly do_rescale: boolean;
  readonly rescale_factor: number;
  readonly do_normalize: boolean;
  readonly image_mean: readonly [number, number, number];
  readonly image_std: readonly [number, number, number];
  readonly do_convert_rgb: boolean;
}

const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** Fill CLIPImageProcessor's defaults and check every key it uses; `file` only labels errors. */
export function parseClipImageProcessorConfig(json: unknown, file?: string): ClipImageProcessorConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new ConfigError(`preprocessor config must be a JSON object, got ${show(json)}`, undefined, file);
  const raw = json as Record<string, unknown>;
  const fail = (key: string, expected: string): never => {
    throw new ConfigError(`"${key}" must be ${expected}, got ${show(raw[key])}`, key, file);
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = raw[key] ?? fallback;
    return typeof v === "boolean" ? v : fail(key, "true or false");
  };
  const positiveInt = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v > 0;
  // A bare int means shortest_edge for `size`, a square for `crop_size` (transformers' get_size_dict).
  const size = ((): SizeConfig => {
    const v = raw["size"] ?? { shortest_edge: 224 };
    if (positiveInt(v)) return { shortest_edge: v as number };
    const o = v as Record<string, unknown>;
    if (typeof v === "object" && v !== null && positiveInt(o["shortest_edge"]))
      return { shortest_edge: o["shortest_edge"] as number };
    if (typeof v === "object" && v !== null && positiveInt(o["height"]) && positiveInt(o["width"]))
      return { height: o["height"] as number, width: o["width"] as number };
    return fail("size", "{shortest_edge: int > 0} or {height, width} (ints > 0)");
  })();
  const cropSize = (() => {
    const v = raw["crop_size"] ?? { height: 224, width: 224 };
    if (positiveInt(v)) return { height: v as number, width: v as number };
    const o = v as Record<string, unknown>;
    if (typeof v === "object" && v !== null && positiveInt(o["height"]) && positiveInt(o["width"]))
      return { height: o["height"] as number, width: o["width"] as number };
    return fail("crop_size", "{height, width} (ints > 0) or an int");
  })();
  const resample = raw["resample"] ?? 3;
  if (resample === 0)
    throw new ConfigError(
      `"resample" 0 (NEAREST) is not supported; use 1-5 (LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING)`,
      "resample",
      file,
    );
  if (![1, 2, 3, 4, 5].includes(resample as number)) fail("resample", "a PIL filter code 1-5 (3 = BICUBIC)");
  const rescaleFactor = raw["rescale_factor"] ?? 1 / 255;
  if (typeof rescaleFactor !== "number" || !Number.isFinite(rescaleFactor) || rescaleFactor <= 0)
    fail("rescale_factor", "a finite number > 0");
  // A single float is broadcast over the channels, as numpy does in normalize().
  const triple = (key: string, fallback: readonly number[], nonZero: boolean) => {
    const v = raw[key] ?? fallback;
    const xs = typeof v === "number" ? [v, v, v] : v;
    const ok =
      Array.isArray(xs) &&
      xs.length === 3 &&
      xs.every((x) => typeof x === "number" && Number.isFinite(x) && (!nonZero || x !== 0));
    return ok
      ? (xs as unknown as readonly [number, number, number])
      : fail(key, `3 finite numbers${nonZero ? " (non-zero)" : ""}, one per RGB channel`);
  };
  return {
    do_resize: bool("do_resize", true),
    size,
    resample: resample as ResampleFilter,
    do_center_crop: bool("do_center_crop", true),
    crop_size: cropSize,
    do_rescale: bool("do_rescale", true),
    rescale_factor: rescaleFactor as number,
    do_normalize: bool("do_normalize", true),
    image_mean: triple("image_mean", OPENAI_CLIP_MEAN, false),
    image_std: triple("image_std", OPENAI_CLIP_STD, true),
    do_convert_rgb: bool("do_convert_rgb", true),
  };
}
