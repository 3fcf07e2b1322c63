// Flag parsing on node:util parseArgs, with errors that name the flag or the path at fault. Every command
// declares its flags once (type, help line, default); `--help` is generated from the same table.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { LlavaError } from "@llava-ts/core";

/** A wrong command line: the message names the flag (or path); the CLI prints it with the usage hint. */
export class UsageError extends LlavaError {
  override name = "UsageError";
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message);
  }
}

export interface FlagSpec {
  type: "string" | "boolean";
  /** Value name in the help ("DIR", "N"); booleans have none. */
  value?: string;
  help: string;
  default?: string | boolean;
  short?: string;
  /** Other spellings accepted, e.g. the Python script's "model-name-or-path". */
  aliases?: readonly string[];
  /** May be given several times (`--image a.jpg --image b.jpg`); read with Flags.strings. */
  multiple?: boolean;
}

export type FlagTable = Record<string, FlagSpec>;
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandSpec {
  name: string;
  summary: string;
  /** e.g. "--model DIR --image FILE --prompt TEXT". */
  synopsis: string;
  flags: FlagTable;
  /** Extra paragraphs after the flag list. */
  notes?: string;
}

/** Parses `argv` against the table (plus --help); unknown flags and stray positionals are UsageErrors. */
export function parseFlags(spec: CommandSpec, argv: readonly string[]): FlagValues & { help?: boolean } {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(spec.flags))
    options[name] = {
      type: f.type,
      ...(f.short ? { short: f.short } : {}),
      ...(f.multiple ? { multiple: true } : {}),
    };
  const canonical = new Map<string, string>();
  for (const [name, f] of Object.entries(spec.flags)) for (const a of f.aliases ?? []) canonical.set(a, name);
  const switches = booleanValues(
    spec.name,
    argv.map((a) => canonicalFlag(a, canonical)),
    options,
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(switches.args, options),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw usageFromParseError(spec, e as Error & { code?: string });
  }
  if (parsed.positionals.length > 0)
    throw new UsageError(
      `llava ${spec.name}: unexpected argument "${parsed.positionals[0]}" (flags take the form --name VALUE)`,
    );
  const values: FlagValues = {};
  for (const [name, f] of Object.entries(spec.flags)) values[name] = f.default;
  Object.assign(values, parsed.values);
  for (const name of switches.off) values[name] = false;
  return values;
}

/**
 * `--bf16 true`, `--gradient_checkpointing=false`: a switch given a value as HF's argument parser takes it
 * (its string_to_bool), the way run_zero2.sh writes them. True becomes the bare switch; false is returned
 * in `off` (the last spelling of a switch wins).
 */
function booleanValues(
  command: string,
  args: readonly string[],
  options: Record<string, { type: string }>,
): { args: string[]; off: string[] } {
  const out: string[] = [];
  const off = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(args[i]);
    if (!m || options[m[1]]?.type !== "boolean") {
      out.push(args[i]);
      continue;
    }
    const name = m[1];
    let value = m[2];
    if (value === undefined && i + 1 < args.length && BOOL.test(args[i + 1])) value = args[++i];
    if (value !== undefined && !BOOL.test(value))
      throw new UsageError(
        `llava ${command}: --${name} is a switch: give it alone, or true / false, not "${value}"`,
        `--${name}`,
      );
    if (value !== undefined && FALSE.test(value)) off.add(name);
    else {
      off.delete(name);
      out.push(`--${name}`);
    }
  }
  return { args: out, off: [...off] };
}

const FALSE = /^(false|f|no|n|0)$/i;
const BOOL = /^(true|t|yes|y|1|false|f|no|n|0)$/i;

/**
 * `--vision-feature-layer -1` → `--vision-feature-layer=-1`: parseArgs would take "-1" for a flag (and
 * report a missing value), so the range check could not name the value.
 */
function joinNegativeValues(args: string[], options: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([^=]+)$/.exec(args[i])?.[1];
    if (name && options[name]?.type === "string" && NEGATIVE.test(args[i + 1] ?? ""))
      out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/** `--learning_rate` (HF's spelling) is `--learning-rate`; aliases map to their flag; values pass through. */
function canonicalFlag(arg: string, aliases: Map<string, string>): string {
  const m = /^--([A-Za-z0-9_-]+)(=.*)?$/.exec(arg);
  if (!m) return arg;
  const name = m[1].replaceAll("_", "-");
  return `--${aliases.get(name) ?? name}${m[2] ?? ""}`;
}

const NEGATIVE = /^-(\d|\.\d|inf|nan)/i;

function usageFromParseError(spec: CommandSpec, e: Error & { code?: string }): UsageError {
  const flag = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1];
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION")
    return new UsageError(
      `llava ${spec.name}: unknown flag ${flag ?? e.message}; see llava ${spec.name} --help`,
      flag,
    );
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE")
    return new UsageError(`llava ${spec.name}: ${flag ?? "a flag"} needs a value`, flag);
  return new UsageError(`llava ${spec.name}: ${e.message}`, flag);
}

/** The generated help text. */
export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.flags).map(([name, f]) => {
    const left = `  --${name}${f.value ? ` ${f.value}` : ""}${f.multiple ? " …" : ""}`;
    const def = f.default !== undefined && f.default !== false ? ` (default ${f.default})` : "";
    return [left, `${f.help}${def}`] as const;
  });
  rows.push(["  -h, --help", "show this help"]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = [
    `llava ${spec.name} — ${spec.summary}`,
    "",
    `Usage: llava ${spec.name} ${spec.synopsis}`,
    "",
    "Flags:",
    ...rows.map(([l, r]) => l.padEnd(width) + r),
  ];
  if (spec.notes) lines.push("", spec.notes);
  return `${lines.join("\n")}\n`;
}

/** Bounds of a number flag: `min`/`max` inclusive, `above`/`below` exclusive. */
export interface Range {
  min?: number;
  max?: number;
  above?: number;
  below?: number;
}

export const MAX_SEED = 2 ** 32 - 1;

function describeRange({ min, max, above, below }: Range): string {
  const low = min !== undefined ? `≥ ${min}` : above !== undefined ? `> ${above}` : undefined;
  const high = max !== undefined ? `≤ ${max}` : below !== undefined ? `< ${below}` : undefined;
  return [low, high].filter(Boolean).join(" and ");
}

/** Typed reads of parsed flags; each error names the flag. */
export class Flags {
  constructor(
    readonly command: string,
    readonly values: FlagValues,
  ) {}

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    if (Array.isArray(v)) return v[v.length - 1];
    return typeof v === "string" ? v : undefined;
  }

  /** Every value of a repeatable flag, in order. */
  strings(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined || v === "")
      throw new UsageError(`llava ${this.command}: --${name} is required`, name);
    return v;
  }

  boolean(name: string): boolean {
    return this.values[name] === true;
  }

  /** A finite number, inside `range` when one is given (the message states the range). */
  number(name: string, range: Range = {}): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n))
      throw new UsageError(`llava ${this.command}: --${name} expects a number, got "${v}"`, `--${name}`);
    const { min, max, above, below } = range;
    const outside =
      (min !== undefined && n < min) ||
      (max !== undefined && n > max) ||
      (above !== undefined && n <= above) ||
      (below !== undefined && n >= below);
    if (outside)
      throw new UsageError(
        `llava ${this.command}: --${name} must be ${describeRange(range)}, got "${v}"`,
        `--${name}`,
      );
    return n;
  }

  /** An integer ≥ min (default 1) and ≤ max (default 2^53 − 1). */
  int(name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const n = this.number(name);
    if (n === undefined) return undefined;
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(
        `llava ${this.command}: --${name} expects an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}, got "${this.string(name)}"`,
        `--${name}`,
      );
    return n;
  }

  /** A seed: an integer from 0 to 2^32 − 1 (numpy's range, which HF's set_seed passes it to). */
  seed(name = "seed"): number | undefined {
    return this.int(name, 0, MAX_SEED);
  }

  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!choices.includes(v as T))
      throw new UsageError(
        `llava ${this.command}: --${name} must be one of ${choices.join(", ")}; got "${v}"`,
        `--${name}`,
      );
    return v as T;
  }

  /** A path that must exist; `file` names what it should hold, for the message. */
  existingPath(name: string, what = "path"): string | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!existsSync(v))
      throw new UsageError(`llava ${this.command}: --${name}: ${what} not found: ${v}`, `--${name}`);
    return v;
  }

  requiredPath(name: string, what = "path"): string {
    this.required(name);
    return this.existingPath(name, what)!;
  }
}
