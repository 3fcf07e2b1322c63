// An output folder is checked before any model loads: it must not be one of the inputs (writing there
// would overwrite the weights being read), must be a folder, and must accept a file — so a read-only or
// mistyped path fails in a second with its name, not after the model loaded and a step ran.
import { existsSync, mkdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "./args.js";

export interface InputFolder {
  /** The flag that named it, e.g. "--model". */
  flag: string;
  path: string;
  /** What writing into it would destroy, for the message. */
  holds: string;
}

/** The path with symlinks resolved where it exists (two spellings of one folder compare equal). */
function canonical(path: string): string {
  return existsSync(path) ? realpathSync(path) : resolve(path);
}

/** Checks `out` (named by `flag`) against `inputs`, creates it and proves it writable; returns it. */
export function prepareOutputDir(command: string, flag: string, out: string, inputs: InputFolder[]): string {
  for (const input of inputs)
    if (canonical(out) === canonical(input.path))
      throw new UsageError(
        `llava ${command}: ${flag} must differ from ${input.flag} (writing to ${out} would overwrite ${input.holds})`,
        flag,
      );
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new UsageError(`llava ${command}: ${flag}: ${out} is a file, not a folder`, flag);
  makeWritableFolder(command, flag, out);
  return out;
}

/** Creates `out` (and its parents) and writes and removes a file in it; a failure names the folder. */
export function makeWritableFolder(command: string, flag: string, out: string): void {
  const probe = join(out, `.llava-write-test-${process.pid}`);
  try {
    mkdirs(out);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (e) {
    throw new UsageError(`llava ${command}: ${flag}: cannot write to ${out} (${(e as Error).message})`, flag);
  }
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdir reports a read-only file system as ENOENT
 * ("no such file or directory"), which names the wrong problem; a plain mkdir says EROFS or EACCES.
 */
function mkdirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d);
}
