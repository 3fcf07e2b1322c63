// llava chat: several turns about one image. Reads one user message per line of stdin (so it can be piped);
// every answer sees the whole conversation so far. An empty line or "/exit" ends it.
import type { LlavaTurn } from "@llava-ts/processor";
import { type CommandSpec, Flags, helpText, parseFlags, UsageError } from "../args.js";
import type { CliIO } from "../io.js";
import { LlavaSession } from "../llava-session.js";
import type { Command } from "./command.js";

export const chatSpec: CommandSpec = {
  name: "chat",
  summary: "talk about one image over several turns (one message per line of stdin)",
  synopsis: "--model DIR [--adapter DIR [--merged]] --image FILE",
  flags: {
    model: { type: "string", value: "DIR", help: "LLaVA folder" },
    adapter: { type: "string", value: "DIR", help: "PEFT LoRA adapter folder to apply" },
    merged: { type: "boolean", help: "fold the adapter into the weights first" },
    image: { type: "string", value: "FILE", help: "the image the conversation is about" },
    "max-new-tokens": { type: "string", value: "N", help: "longest answer in tokens", default: "256" },
  },
  notes: 'Type a message and press Enter; an empty line, "/exit" or end of input ends the chat.',
};

export interface ChatOptions {
  model: string;
  adapter?: string;
  merged?: boolean;
  image: string;
  maxNewTokens?: number;
}

/** Runs the conversation over io.stdin's lines; returns the turns (human, gpt, human, gpt, …). */
export async function runChat(o: ChatOptions, io: CliIO): Promise<LlavaTurn[]> {
  if (!io.stdin) throw new UsageError("llava chat: no standard input to read messages from");
  const session = await LlavaSession.load(o.model, { adapter: o.adapter, merge: o.merged });
  const turns: LlavaTurn[] = [];
  try {
    const pixels = await session.pixels(o.image);
    io.stderr.write(`chatting about ${o.image}; an empty line ends it\n`);
    io.stdout.write("> ");
    for await (const raw of io.stdin) {
      const line = raw.trim();
      if (line === "" || line === "/exit") break;
      // The image goes with the first message only, as LLaVA's conversations carry it.
      turns.push({ from: "human", value: turns.length === 0 ? `<image>\n${line}` : line });
      const [answer] = await session.generate(
        [{ turns, images: [pixels] }],
        { maxNewTokens: o.maxNewTokens },
        (_, piece) => io.stdout.write(piece),
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
    if (f.boolean("merged") && !f.has("adapter"))
      throw new UsageError("llava chat: --merged needs --adapter DIR", "--merged");
    await runChat(
      {
        model: f.requiredPath("model", "model folder"),
        adapter: f.existingPath("adapter", "adapter folder"),
        merged: f.boolean("merged"),
        image: f.requiredPath("image", "image file"),
        maxNewTokens: f.int("max-new-tokens"),
      },
      io,
    );
    return 0;
  },
};
