// llava chat: several turns about one image. Reads one user message per line of stdin (so it can be piped);
// every answer sees the whole conversation so far. An empty line or "/exit" ends it.
import type { LlavaTurn, PreprocessMode } from "@llava-ts/processor";
import { type CommandSpec, Flags, helpText, parseFlags, UsageError } from "../args.js";
import type { CliIO } from "../io.js";
import { type GenerationSettings, LlavaSession } from "../llava-session.js";
import { placeImages } from "../prompt-format.js";
import type { Command } from "./command.js";
import { generationFlags, generationSettings } from "./generation-flags.js";
import { applyMaxHeap, maxHeapFlag } from "./heap-flag.js";

export const chatSpec: CommandSpec = {
  name: "chat",
  summary: "talk about one image over several turns (one message per line of stdin)",
  synopsis: "--model DIR [--adapter DIR [--merged]] --image FILE",
  flags: {
    model: { type: "string", value: "DIR", help: "LLaVA folder" },
    adapter: { type: "string", value: "DIR", help: "PEFT LoRA adapter folder to apply" },
    merged: { type: "boolean", help: "fold the adapter into the weights first" },
    image: { type: "string", value: "FILE", help: "the image the conversation is about" },
    "image-mode": { type: "string", value: "M", help: "crop | pad (default: the model folder's)" },
    ...generationFlags(256),
    ...maxHeapFlag,
  },
  notes: 'Type a message and press Enter; an empty line, "/exit" or end of input ends the chat.',
};

export interface ChatOptions {
  model: string;
  adapter?: string;
  merged?: boolean;
  image: string;
  imageMode?: PreprocessMode;
  generation?: GenerationSettings;
}

/** Runs the conversation over io.stdin's lines; returns the turns (human, gpt, human, gpt, …). */
export async function runChat(o: ChatOptions, io: CliIO): Promise<LlavaTurn[]> {
  if (!io.stdin) throw new UsageError("llava chat: no standard input to read messages from");
  const session = await LlavaSession.load(o.model, { adapter: o.adapter, merge: o.merged });
  const turns: LlavaTurn[] = [];
  try {
    const pixels = await session.pixels(o.image, o.imageMode);
    io.stderr.write(`chatting about ${o.image}; an empty line ends it\n`);
    io.stdout.write("> ");
    for await (const raw of io.stdin) {
      const line = raw.trim();
      if (line === "" || line === "/exit") break;
      // The image goes with the first message only, as LLaVA's conversations carry it.
      turns.push({
        from: "human",
        value: turns.length === 0 ? placeImages(line, 1, session.promptFormat) : line,
      });
      const [answer] = await session.generate([{ turns, images: [pixels] }], o.generation, (_, piece) =>
        io.stdout.write(piece),
      );
      turns.push({ from: "gpt", value: answer });
      io.stdout.write("\n> ");
    }
    io.stdout.write("\n");
  } finally {
    session.dispose();
  }
  return turns;
}

export const chatCommand: Command = {
  spec: chatSpec,
  async run(argv, io) {
    const values = parseFlags(chatSpec, argv);
    if (values.help) {
      io.stdout.write(helpText(chatSpec));
      return 0;
    }
    const f = new Flags("chat", values);
    applyMaxHeap(f);
    if (f.boolean("merged") && !f.has("adapter"))
      throw new UsageError("llava chat: --merged needs --adapter DIR", "--merged");
    await runChat(
      {
        model: f.requiredPath("model", "model folder"),
        adapter: f.existingPath("adapter", "adapter folder"),
        merged: f.boolean("merged"),
        image: f.requiredPath("image", "image file"),
        imageMode: f.choice("image-mode", ["crop", "pad"] as const),
        generation: generationSettings(f),
      },
      io,
    );
    return 0;
  },
};
