// Fixture access for tests: ../shared/fixtures beside the repository, or LLAVA_FIXTURES.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { LlavaError } from "../errors.js";
import { SafetensorsFile } from "../safetensors/index.js";

/** The repository root: the nearest ancestor holding pnpm-workspace.yaml. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "pnpm-workspace.yaml"))) {
    const up = dirname(dir);
    if (up === dir) throw new LlavaError("cannot find the repository root (pnpm-workspace.yaml)");
    dir = up;
  }
  return dir;
}

export function fixturesDir(): string {
  const dir = process.env.LLAVA_FIXTURES ?? resolve(repoRoot(), "../shared/fixtures");
  if (!existsSync(dir)) throw new LlavaError(`fixtures not found at ${dir} (set LLAVA_FIXTURES)`);
  return dir;
}

export function fixturePath(...parts: string[]): string {
  return join(fixturesDir(), ...parts);
}

export interface Cases {
  /** cases.json as written by the reference. */
  json: Record<string, unknown>;
  names(): string[];
  shape(name: string): number[];
  /** Float data as Float32Array, integer data (I64 narrowed) as Int32Array. */
  array(name: string): Float32Array | Int32Array;
  /** A new tensor the caller disposes. */
  tensor(name: string): tf.Tensor;
  close(): void;
}

/** Reads `<fixtures>/<sub>/cases.json` and the tensors of `cases.safetensors` beside it. */
export function loadCases(sub: string): Cases {
  const dir = fixturePath(sub);
  const json = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8"));
  const file = SafetensorsFile.open(join(dir, "cases.safetensors"));
  return {
    json,
    names: () => file.keys(),
    shape: (name) => [...file.info(name).shape],
    array: (name) => file.read(name).data as Float32Array | Int32Array,
    tensor: (name) => {
      const { data, shape } = file.read(name);
      return tf.tensor(
        data as Float32Array | Int32Array,
        [...shape],
        data instanceof Float32Array ? "float32" : "int32",
      );
    },
    close: () => file.close(),
  };
}
