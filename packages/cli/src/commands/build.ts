// llava build: a CLIP checkpoint + a Qwen2 / Qwen2.5 checkpoint → an HF llava folder (buildLlava).
import { join } from "node:path";
import { type BuildLlavaResult, buildLlava } from "@llava-ts/llava";
import { type CommandSpec, Flags, helpText, parseFlags } from "../args.js";
import type { CliIO } from "../io.js";
import type { Command } from "./command.js";

export const buildSpec: CommandSpec = {
  name: "build",
  summary: "build a LLaVA from a CLIP vision checkpoint and a Qwen2.5 checkpoint",
  synopsis: "--vision DIR --llm DIR --out DIR [--seed N] [--tokenizer DIR]",
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
}

export async function runBuild(o: BuildOptions, io: CliIO): Promise<BuildLlavaResult> {
  io.stdout.write(`building ${o.out} from ${o.vision} + ${o.llm}\n`);
  let lastShown = -1;
  const result = await buildLlava({
    ...o,
    onTensor: (_name, i, total) => {
      const pct = Math.floor((100 * (i + 1)) / total);
      if (pct >= lastShown + 10 || i + 1 === total) {
        io.stderr.write(`  ${i + 1}/${total} tensors\n`);
        lastShown = pct;
      }
    },
  });
  io.stdout.write(
    [
      `<image> token id ${result.imageTokenIndex}, pad token id ${result.padTokenId}`,
      `vocabulary ${result.resize.newRows} rows${result.resize.newRows > result.resize.currentRows ? ` (resized from ${result.resize.currentRows})` : ""}`,
      `wrote ${join(o.out, "config.json")} and ${result.checkpoint.files.length} weight file(s)`,
      "",
    ].join("\n"),
  );
  return result;
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
        seed: f.int("seed", 0),
        tokenizer: f.existingPath("tokenizer", "tokenizer folder"),
      },
      io,
    );
    return 0;
  },
};
