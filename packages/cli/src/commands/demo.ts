// llava demo: the embedded end-to-end demo (`pnpm demo`); see ../demo/run-demo.ts.
import { availableParallelism } from "node:os";
import { type CommandSpec, Flags, helpText, parseFlags } from "../args.js";
import { runDemo } from "../demo/run-demo.js";
import type { Command } from "./command.js";

export const demoSpec: CommandSpec = {
  name: "demo",
  summary: "build, train from scratch, fine-tune with LoRA and caption held-out images — offline, in minutes",
  synopsis: "[--out DIR] [--ranks N] [--seed N] [--quick]",
  flags: {
    out: {
      type: "string",
      value: "DIR",
      help: "working folder: new, empty, or an earlier demo's (wiped first)",
      default: ".demo",
    },
    ranks: { type: "string", value: "N", help: "ZeRO-2 ranks (default: 2 when there are two cores, else 1)" },
    seed: { type: "string", value: "N", help: "seed of everything (data, weights, order)", default: "0" },
    quick: {
      type: "boolean",
      help: "a few steps of each stage (checks the plumbing; captions will be wrong)",
    },
  },
};

export const demoCommand: Command = {
  spec: demoSpec,
  async run(argv, io) {
    const values = parseFlags(demoSpec, argv);
    if (values.help) {
      io.stdout.write(helpText(demoSpec));
      return 0;
    }
    const f = new Flags("demo", values);
    await runDemo(
      {
        out: f.string("out"),
        ranks: f.int("ranks", 1, availableParallelism()),
        seed: f.seed(),
        quick: f.boolean("quick"),
      },
      io,
    );
    return 0;
  },
};
