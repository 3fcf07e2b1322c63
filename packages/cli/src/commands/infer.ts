// llava infer: one image + one prompt → the answer, streamed to stdout as it is generated.
import { type CommandSpec, Flags, helpText, parseFlags, UsageError } from "../args.js";
import type { CliIO } from "../io.js";
import { LlavaSession } from "../llava-session.js";
import type { Command } from "./command.js";

export const inferSpec: CommandSpec = {
  name: "infer",
  summary: "answer a prompt about an image (streamed)",
  synopsis: "--model DIR [--adapter DIR [--merged]] --image FILE --prompt TEXT",
  flags: {
    model: {
      type: "string",
      value: "DIR",
      help: "LLaVA folder (llava build, training output, or llava merge)",
    },
    adapter: { type: "string", value: "DIR", help: "PEFT LoRA adapter folder to apply" },
    merged: { type: "boolean", help: "fold the adapter into the weights before generating (as llava merge)" },
    image: { type: "string", value: "FILE", help: "image file (JPEG, PNG, WebP, …)" },
    prompt: {
      type: "string",
      value: "TEXT",
      help: 'the question; "<image>\\n" is put in front unless it has one',
    },
    "max-new-tokens": { type: "string", value: "N", help: "longest answer in tokens", default: "256" },
  },
};

export interface InferOptions {
  model: string;
  adapter?: string;
  merged?: boolean;
  image: string;
  prompt: string;
  maxNewTokens?: number;
}

/** Generates greedily, writing text to io.stdout as it comes; returns the whole answer. */
export async function runInfer(o: InferOptions, io: CliIO): Promise<string> {
  const session = await LlavaSession.load(o.model, { adapter: o.adapter, merge: o.merged });
  try {
    const pixels = await session.pixels(o.image);
    const [text] = await session.generate(
      // LLaVA's prompts put the image first: "<image>\nQuestion".
      [
        {
          turns: [{ from: "human", value: o.prompt.includes("<image>") ? o.prompt : `<image>\n${o.prompt}` }],
          images: [pixels],
        },
      ],
      { maxNewTokens: o.maxNewTokens },
      (_, piece) => io.stdout.write(piece),
    );
    io.stdout.write("\n");
    return text;
  } finally {
    session.dispose();
  }
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
    if (f.boolean("merged") && !f.has("adapter"))
      throw new UsageError(
        "llava infer: --merged needs --adapter DIR (a merged folder is used with --model alone)",
        "--merged",
      );
    await runInfer(
      {
        model: f.requiredPath("model", "model folder"),
        adapter: f.existingPath("adapter", "adapter folder"),
        merged: f.boolean("merged"),
        image: f.requiredPath("image", "image file"),
        prompt: f.required("prompt"),
        maxNewTokens: f.int("max-new-tokens"),
      },
      io,
    );
    return 0;
  },
};
