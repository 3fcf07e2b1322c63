// The `llava` command: dispatch to a subcommand, print its help, turn errors into one clear line.
import { initBackend, wasmThreads } from "@llava-ts/core";
import { parseFlags, UsageError } from "./args.js";
import { buildCommand } from "./commands/build.js";
import { chatCommand } from "./commands/chat.js";
import type { Command } from "./commands/command.js";
import { demoCommand } from "./commands/demo.js";
import { evalCommand } from "./commands/eval.js";
import { inferCommand } from "./commands/infer.js";
import { mergeCommand } from "./commands/merge.js";
import { trainCommand } from "./commands/train.js";
import { errorLine } from "./error-line.js";
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
    if (!rest.includes("--help") && !rest.includes("-h")) {
      parseFlags(command.spec, rest); // a wrong flag is named before anything starts
      io.stderr.write(`llava ${name}: ${await startBackend()}\n`);
    }
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    io.stderr.write(`llava ${name}: ${errorLine(e)}\n`);
    return 1;
  }
}

/**
 * Selects the backend as every entry point does (LLAVA_BACKEND, LLAVA_THREADS; core's initBackend, which
 * also keeps tfjs' console banners quiet) and says which one runs.
 */
async function startBackend(): Promise<string> {
  const backend = await initBackend();
  if (backend !== "wasm") return `backend ${backend}`;
  const threads = wasmThreads();
  return `backend wasm, ${threads} thread${threads === 1 ? "" : "s"}`;
}
