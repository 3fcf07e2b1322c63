// llava build: a CLIP checkpoint + a Qwen2 / Qwen2.5 checkpoint → an HF llava folder (buildLlava).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BuildLlavaResult, buildLlava, type CheckpointLayout } from "@llava-ts/llava";
import type { PreprocessMode } from "@llava-ts/processor";
import { type CommandSpec, Flags, helpText, parseFlags, UsageError } from "../args.js";
import type { CliIO } from "../io.js";
import { prepareOutputDir } from "../output-dir.js";
import type { Command } from "./command.js";

export const buildSpec: CommandSpec = {
  name: "build",
  summary: "build a LLaVA from a CLIP vision checkpoint and a Qwen2.5 checkpoint",
  synopsis: "--vision DIR --llm DIR --out DIR [--seed N] [--tokenizer DIR] [flags]",
  flags: {
    vision: {
      type: "string",
      value: "DIR",
      help: "CLIP folder (vision-only or full CLIP), e.g. clip-vit-large-patch14-336",
    },
    llm: { type: "string", value: "DIR", help: "Qwen2 / Qwen2.5 folder, e.g. Qwen2.5-3B-Instruct" },
    out: { type: "string", value: "DIR", help: "output folder (HF llava layout)" },
    seed: { type: "string", value: "N", help: "seed of the projector's initialisation", default: "0" },
    tokenizer: { type: "string", value: "DIR", help: "tokenizer folder (default: the LLM's)" },
    "vision-feature-layer": {
      type: "string",
      value: "N",
      help: "CLIP hidden state fed to the projector (negative counts from the end)",
      default: "-2",
    },
    "vision-feature-select-strategy": {
      type: "string",
      value: "S",
      help: "default (drop the CLS token) | full",
      default: "default",
    },
    "image-mode": {
      type: "string",
      value: "M",
      help: "crop (CLIPImageProcessor) | pad (LLaVA-1.5: pad to a square first); recorded in config.json",
      default: "crop",
    },
    "save-layout": {
      type: "string",
      value: "L",
      help: "weight keys: legacy (every transformers loads it) | current (transformers ≥ 4.52's model.*)",
      default: "legacy",
    },
  },
  notes:
    "Adds <image> as a special token (151665 with Qwen2.5), pads with <|endoftext|>, writes config.json, the\n" +
    "weights (streamed tensor by tensor), the tokenizer and the processor files.",
};

export interface BuildOptions {
  vision: string;
  llm: string;
  out: string;
  seed?: number;
  tokenizer?: string;
  visionFeatureLayer?: number;
  visionFeatureSelectStrategy?: "default" | "full";
  /** "pad" is recorded as config.json's image_aspect_ratio (LLaVA's key), which training and inference read. */
  imageMode?: PreprocessMode;
  layout?: CheckpointLayout;
}

export async function runBuild(o: BuildOptions, io: CliIO): Promise<BuildLlavaResult> {
  prepareOutputDir("build", "--out", o.out, [
    { flag: "--vision", path: o.vision, holds: "the CLIP checkpoint" },
    { flag: "--llm", path: o.llm, holds: "the LLM checkpoint" },
    ...(o.tokenizer ? [{ flag: "--tokenizer", path: o.tokenizer, holds: "the tokenizer" }] : []),
  ]);
  io.stdout.write(`building ${o.out} from ${o.vision} + ${o.llm}\n`);
  let lastShown = -1;
  const { imageMode, ...options } = o;
  const result = await buildLlava({
    ...options,
    onTensor: (_name, i, total) => {
      const pct = Math.floor((100 * (i + 1)) / total);
      if (pct >= lastShown + 10 || i + 1 === total) {
        io.stderr.write(`  ${i + 1}/${total} tensors\n`);
        lastShown = pct;
      }
    },
  });
  if (imageMode === "pad") {
    result.config.image_aspect_ratio = "pad";
    writeFileSync(join(o.out, "config.json"), `${JSON.stringify(result.config, null, 2)}\n`);
  }
  io.stdout.write(
    [
      `<image> token id ${result.imageTokenIndex}, pad token id ${result.padTokenId}`,
      `vision feature layer ${result.config.vision_feature_layer} (${result.config.vision_feature_select_strategy}), image mode ${imageMode ?? "crop"}, ${o.layout ?? "legacy"} key layout`,
      `vocabulary ${result.resize.newRows} rows${result.resize.newRows > result.resize.currentRows ? ` (resized from ${result.resize.currentRows})` : ""}`,
      `wrote ${join(o.out, "config.json")} and ${result.checkpoint.files.length} weight file(s)`,
      "",
    ].join("\n"),
  );
  return result;
}

/** An integer flag that may be negative (a layer index). */
function integer(f: Flags, name: string): number | undefined {
  const n = f.number(name);
  if (n !== undefined && !Number.isInteger(n))
    throw new UsageError(`llava build: --${name} expects an integer, got "${f.string(name)}"`, `--${name}`);
  return n;
}

export const buildCommand: Command = {
  spec: buildSpec,
  async run(argv, io) {
    const values = parseFlags(buildSpec, argv);
    if (values.help) {
      io.stdout.write(helpText(buildSpec));
      return 0;
    }
    const f = new Flags("build", values);
    await runBuild(
      {
        vision: f.requiredPath("vision", "CLIP folder"),
        llm: f.requiredPath("llm", "LLM folder"),
        out: f.required("out"),
        seed: f.seed(),
        tokenizer: f.existingPath("tokenizer", "tokenizer folder"),
        visionFeatureLayer: integer(f, "vision-feature-layer"),
        visionFeatureSelectStrategy: f.choice("vision-feature-select-strategy", ["default", "full"] as const),
        imageMode: f.choice("image-mode", ["crop", "pad"] as const),
        layout: f.choice("save-layout", ["legacy", "current"] as const),
      },
      io,
    );
    return 0;
  },
};
