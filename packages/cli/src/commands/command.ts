// The shape every `llava` subcommand has: its flag table (for parsing and --help) and a run function.
import type { CommandSpec } from "../args.js";
import type { CliIO } from "../io.js";

export interface Command {
  spec: CommandSpec;
  /** Parses argv (without the command name) and runs; resolves to the exit code. */
  run(argv: readonly string[], io: CliIO): Promise<number>;
}
