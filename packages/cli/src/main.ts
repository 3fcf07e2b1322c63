// The `llava` command: dispatch to a subcommand, print its help, turn errors into one clear line.
import { LlavaError } from "@llava-ts/core";
import { UsageError } from "./args.js";
import { buildCommand } from "./commands/build.js";
import { chatCommand } from "./commands/chat.js";
import type { Command } from "./commands/command.js";
import { demoCommand } from "./commands/demo.js";
import { evalCommand } from "./commands/eval.js";
import { inferCommand } from "./commands/infer.js";
import { mergeCommand } from "./commands/merge.js";
import { trainCommand } from "./commands/train.js";
import type { CliIO } from "./io.js";
import { cliVersion } from "./version.js";

export const COMMANDS: readonly Command[] = [
  buildCommand,
  trainCommand,
  inferCommand,
  chatCommand,
  mergeCommand,
  evalCommand,
  demoCommand,
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;
  return [
    "llava — build, train and run LLaVA models (CLIP + projector + Qwen2.5) on TensorFlow.js",
    "",
    "Usage: llava <command> [flags]",
    "       llava --version",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    "",
    "Run llava <command> --help for its flags. Backend: LLAVA_BACKEND=wasm|cpu|tensorflow.",
    "",
  ].join("\n");
}

/** Runs the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === "--version" || name === "-v") {
    io.stdout.write(`${cliVersion()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    io.stderr.write(`llava: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    const err = e as Error;
    // Library errors carry their context (file, key, record) in the message; others get their stack.
    io.stderr.write(
      e instanceof LlavaError
        ? `llava ${name}: ${err.name}: ${err.message}\n`
        : `llava ${name}: ${err.stack ?? err}\n`,
    );
    return 1;
  }
}
