// llava infer: prompts about images → answers. One prompt streams its answer to stdout; several images
// (--image repeated) or a JSONL of requests are answered in left-padded batches.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { PreprocessMode } from "@llava-ts/processor";
import { type CommandSpec, Flags, helpText, parseFlags, UsageError } from "../args.js";
import type { CliIO } from "../io.js";
import { type GenerationSettings, LlavaSession, type PromptRequest } from "../llava-session.js";
import { placeImages } from "../prompt-format.js";
import type { Command } from "./command.js";
import { generationFlags, generationSettings } from "./generation-flags.js";
import { applyMaxHeap, maxHeapFlag } from "./heap-flag.js";

export const inferSpec: CommandSpec = {
  name: "infer",
  summary: "answer prompts about images (streamed; batched for several images or a JSONL of requests)",
  synopsis: "--model DIR [--adapter DIR [--merged]] (--image FILE… --prompt TEXT | --requests FILE)",
  flags: {
    model: {
      type: "string",
      value: "DIR",
      help: "LLaVA folder (llava build, training output, or llava merge)",
    },
    adapter: { type: "string", value: "DIR", help: "PEFT LoRA adapter folder to apply" },
    merged: { type: "boolean", help: "fold the adapter into the weights before generating (as llava merge)" },
    image: {
      type: "string",
      value: "FILE",
      help: "image file (JPEG, PNG, WebP, …); repeat for one answer per image",
      multiple: true,
    },
    prompt: {
      type: "string",
      value: "TEXT",
      help: "the question; without <image> the image goes where the model's training data put it",
    },
    requests: {
      type: "string",
      value: "FILE",
      help: 'JSONL, one request a line: {"image": FILE|[FILE…], "prompt": TEXT} or {"image", "conversations"}',
    },
    "batch-size": { type: "string", value: "N", help: "requests generated together", default: "8" },
    "image-mode": { type: "string", value: "M", help: "crop | pad (default: the model folder's)" },
    json: { type: "boolean", help: "one JSON object per answer: {image, prompt, answer}" },
    ...generationFlags(256),
    ...maxHeapFlag,
  },
  notes:
    "Where <image> goes when the prompt has none: prompt_format.json (written by training next to the\n" +
    "adapter or model) records where the training data put it, per prompt text and overall; without it,\n" +
    'before the text ("<image>\\nQuestion"), as LLaVA\'s own data does. Image paths in --requests are relative\n' +
    "to the JSONL file.",
};

export interface InferRequest {
  images: string[];
  /** A question (string) or a conversation ending with the user's turn. */
  prompt: string | { from: string; value: string }[];
}

export interface InferOptions {
  model: string;
  adapter?: string;
  merged?: boolean;
  requests: InferRequest[];
  batchSize?: number;
  imageMode?: PreprocessMode;
  json?: boolean;
  generation?: GenerationSettings;
}

export interface InferAnswer {
  image: string | string[];
  prompt: string;
  answer: string;
}

/** Answers the requests in order; a single request is streamed to io.stdout as it is generated. */
export async function runInfer(o: InferOptions, io: CliIO): Promise<InferAnswer[]> {
  const session = await LlavaSession.load(o.model, { adapter: o.adapter, merge: o.merged });
  const answers: InferAnswer[] = [];
  try {
    const stream = o.requests.length === 1 && !o.json;
    const batchSize = o.batchSize ?? 8;
    for (let i = 0; i < o.requests.length; i += batchSize) {
      const batch = o.requests.slice(i, i + batchSize);
      const prepared: PromptRequest[] = [];
      for (const r of batch)
        prepared.push({
          turns: withImages(r.prompt, r.images.length, session),
          images: await Promise.all(r.images.map((file) => session.pixels(file, o.imageMode))),
        });
      const texts = await session.generate(
        prepared,
        o.generation,
        stream ? (_, piece) => io.stdout.write(piece) : undefined,
      );
      texts.forEach((answer, k) => {
        const r = batch[k];
        const a: InferAnswer = {
          image: r.images.length === 1 ? r.images[0] : r.images,
          prompt: (prepared[k].turns[prepared[k].turns.length - 1] as { value: string }).value,
          answer,
        };
        answers.push(a);
        if (o.json) io.stdout.write(`${JSON.stringify(a)}\n`);
        else if (stream) io.stdout.write("\n");
        else io.stdout.write(`[${r.images.join(", ")}] ${answer}\n`);
      });
    }
  } finally {
    session.dispose();
  }
  return answers;
}

/** The request's turns, its first user turn given `<image>` where the model expects it if it has none. */
function withImages(prompt: InferRequest["prompt"], numImages: number, session: LlavaSession) {
  const turns =
    typeof prompt === "string" ? [{ from: "human", value: prompt }] : prompt.map((t) => ({ ...t }));
  const first = turns.find((t) => t.from === "human" || t.from === "user");
  if (first) first.value = placeImages(first.value, numImages, session.promptFormat);
  return turns;
}

/** Reads a JSONL of requests; image paths are resolved against the file's folder. */
export function readRequests(file: string): InferRequest[] {
  const base = dirname(file);
  const out: InferRequest[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (line.trim() === "") return;
      const where = `${file} line ${i + 1}`;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(line);
      } catch (e) {
        throw new UsageError(`llava infer: ${where}: not JSON (${(e as Error).message})`, "--requests");
      }
      const img = row.image ?? row.images ?? [];
      const images = (Array.isArray(img) ? img : [img]).map((p) => {
        if (typeof p !== "string")
          throw new UsageError(
            `llava infer: ${where}: "image" must be a path or a list of paths`,
            "--requests",
          );
        return isAbsolute(p) ? p : resolve(base, p);
      });
      const turns = row.conversations ?? row.messages;
      if (typeof row.prompt === "string") out.push({ images, prompt: row.prompt });
      else if (Array.isArray(turns))
        out.push({
          images,
          prompt: turns.map((t: Record<string, string>) => ({
            from: t.from ?? t.role,
            value: t.value ?? t.content,
          })),
        });
      else throw new UsageError(`llava infer: ${where}: needs "prompt" or "conversations"`, "--requests");
    });
  if (out.length === 0) throw new UsageError(`llava infer: ${file} has no requests`, "--requests");
  return out;
}

export const inferCommand: Command = {
  spec: inferSpec,
  async run(argv, io) {
    const values = parseFlags(inferSpec, argv);
    if (values.help) {
      io.stdout.write(helpText(inferSpec));
      return 0;
    }
    const f = new Flags("infer", values);
    applyMaxHeap(f);
    if (f.boolean("merged") && !f.has("adapter"))
      throw new UsageError(
        "llava infer: --merged needs --adapter DIR (a merged folder is used with --model alone)",
        "--merged",
      );
    const file = f.existingPath("requests", "requests file");
    let requests: InferRequest[];
    if (file !== undefined) {
      if (f.has("image") || f.has("prompt"))
        throw new UsageError("llava infer: --requests replaces --image and --prompt", "--requests");
      requests = readRequests(file);
    } else {
      const images = f.strings("image");
      if (images.length === 0)
        throw new UsageError("llava infer: --image (or --requests) is required", "--image");
      for (const img of images) new Flags("infer", { image: img }).existingPath("image", "image file");
      const prompt = f.required("prompt");
      requests = images.map((img) => ({ images: [img], prompt }));
    }
    await runInfer(
      {
        model: f.requiredPath("model", "model folder"),
        adapter: f.existingPath("adapter", "adapter folder"),
        merged: f.boolean("merged"),
        requests,
        batchSize: f.int("batch-size"),
        imageMode: f.choice("image-mode", ["crop", "pad"] as const),
        json: f.boolean("json"),
        generation: generationSettings(f),
      },
      io,
    );
    return 0;
  },
};
