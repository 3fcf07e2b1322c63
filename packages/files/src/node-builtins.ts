// Node's built-in modules through process.getBuiltinModule (Node ≥ 20.16) instead of import statements:
// a bundler targeting the browser then sees no `node:` import and needs no polyfills, and only the code
// that really needs Node (file paths, worker threads) fails in a browser — with a line saying what to use.
import type * as Fs from "node:fs";
import type * as FsPromises from "node:fs/promises";
import type * as NodeModule from "node:module";
import type * as Os from "node:os";
import type * as Path from "node:path";
import type * as Url from "node:url";
import type * as WorkerThreads from "node:worker_threads";
import { LlavaError } from "@llava-ts/errors";

interface Builtins {
  "node:fs": typeof Fs;
  "node:fs/promises": typeof FsPromises;
  "node:module": typeof NodeModule;
  "node:os": typeof Os;
  "node:path": typeof Path;
  "node:url": typeof Url;
  "node:worker_threads": typeof WorkerThreads;
}

interface MaybeNodeProcess {
  getBuiltinModule?: (id: string) => unknown;
  env?: Record<string, string | undefined>;
}

const nodeProcess = (globalThis as { process?: MaybeNodeProcess }).process;

/** Whether this is Node (or Bun/Deno in Node mode) with built-in modules, not a browser. */
export function hasNodeBuiltins(): boolean {
  return typeof nodeProcess?.getBuiltinModule === "function";
}

/**
 * The built-in module `id`; in a browser, a LlavaError saying that `needs` (e.g. "reading the folder
 * models/llava") needs Node.
 */
export function nodeBuiltin<K extends keyof Builtins>(id: K, needs: string): Builtins[K] {
  const mod = hasNodeBuiltins() ? nodeProcess!.getBuiltinModule!(id) : undefined;
  if (!mod)
    throw new LlavaError(
      `${needs} needs Node.js (${id}); in a browser, load from a URL or an in-memory folder instead`,
    );
  return mod as Builtins[K];
}

/** An environment variable, or undefined where there is no environment (a browser). */
export function envVar(name: string): string | undefined {
  return nodeProcess?.env?.[name];
}
