// llava merge: base model + LoRA adapter → a full model folder with the adapter folded into the weights
// (PEFT's merge_and_unload + save_pretrained), loadable without the lora package.
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import {
  type CheckpointLayout,
  copyModelFiles,
  LlavaForConditionalGeneration,
  type SaveDtype,
} from "@llava-ts/llava";
import { loadAdapter, mergeAndUnload } from "@llava-ts/lora";
import { type CommandSpec, Flags, helpText, parseFlags } from "../args.js";
import type { CliIO } from "../io.js";
import { prepareOutputDir } from "../output-dir.js";
import { PROMPT_FORMAT_FILE } from "../prompt-format.js";
import type { Command } from "./command.js";
import { applyMaxHeap, maxHeapFlag } from "./heap-flag.js";

export const mergeSpec: CommandSpec = {
  name: "merge",
  summary: "fold a LoRA adapter into the base weights and save the full model",
  synopsis: "--model DIR --adapter DIR --out DIR",
  flags: {
    model: { type: "string", value: "DIR", help: "base LLaVA folder" },
    adapter: { type: "string", value: "DIR", help: "PEFT LoRA adapter folder" },
    out: {
      type: "string",
      value: "DIR",
      help: "output folder (HF llava layout, with tokenizer and processor files)",
    },
    "max-shard-size": { type: "string", value: "SIZE", help: 'shard limit, e.g. "5GB"', default: "5GB" },
    dtype: {
      type: "string",
      value: "D",
      help: "storage dtype: bf16 | f16 | f32 (default: the base checkpoint's, as save_pretrained keeps torch_dtype)",
    },
    "save-layout": {
      type: "string",
      value: "L",
      help: "weight keys: legacy (every transformers loads it) | current (transformers ≥ 4.52's model.*)",
      default: "legacy",
    },
    ...maxHeapFlag,
  },
};

export interface MergeOptions {
  model: string;
  adapter: string;
  out: string;
  maxShardSize?: string;
  dtype?: SaveDtype;
  layout?: CheckpointLayout;
}

export async function runMerge(o: MergeOptions, io: CliIO): Promise<void> {
  prepareOutputDir("merge", "--out", o.out, [
    { flag: "--model", path: o.model, holds: "the base weights" },
    { flag: "--adapter", path: o.adapter, holds: "the adapter" },
  ]);
  const model = LlavaForConditionalGeneration.fromPretrained(o.model);
  try {
    const summary = loadAdapter(model, o.adapter);
    mergeAndUnload(model);
    const written = await model.savePretrained(o.out, {
      maxShardSize: o.maxShardSize,
      dtype: o.dtype,
      layout: o.layout,
    });
    // The adapter's record of its training prompts describes the merged model, not the base's.
    const format = join(o.adapter, PROMPT_FORMAT_FILE);
    if (existsSync(format)) copyFileSync(format, join(o.out, PROMPT_FORMAT_FILE));
    const copied = copyModelFiles(o.model, o.out);
    io.stdout.write(
      `merged ${o.adapter} into ${o.model}: ${summary.toString().split("\n")[0]}\n` +
        `wrote ${o.out}: ${written.files.length} weight file(s), config.json, ${copied.join(", ")}\n`,
    );
  } finally {
    model.dispose();
  }
}

export const mergeCommand: Command = {
  spec: mergeSpec,
  async run(argv, io) {
    const values = parseFlags(mergeSpec, argv);
    if (values.help) {
      io.stdout.write(helpText(mergeSpec));
      return 0;
    }
    const f = new Flags("merge", values);
    applyMaxHeap(f);
    await runMerge(
      {
        model: f.requiredPath("model", "model folder"),
        adapter: f.requiredPath("adapter", "adapter folder"),
        out: f.required("out"),
        maxShardSize: f.string("max-shard-size"),
        dtype: f.choice("dtype", ["bf16", "f16", "f32"] as const),
        layout: f.choice("save-layout", ["legacy", "current"] as const),
      },
      io,
    );
    return 0;
  },
};
