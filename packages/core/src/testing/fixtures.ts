// Fixture access for tests: LLAVA_FIXTURES, else the nearest `shared/fixtures` folder above this package or
// the working directory (in this repository: ../shared/fixtures beside it). Nothing here needs the
// repository itself, so `@llava-ts/core/testing` works in any project that installs core.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { LlavaError } from "../errors.js";
import { SafetensorsFile } from "../safetensors/index.js";

function findUp(from: string, sub: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, sub))) return join(dir, sub);
    if (dirname(dir) === dir) return undefined;
  }
}

export function fixturesDir(): string {
  const env = process.env.LLAVA_FIXTURES;
  if (env !== undefined && env !== "") {
    if (!existsSync(env)) throw new LlavaError(`LLAVA_FIXTURES points at ${env}, which does not exist`);
    return resolve(env);
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const found = findUp(here, "shared/fixtures") ?? findUp(process.cwd(), "shared/fixtures");
  if (!found)
    throw new LlavaError(
      `no fixtures folder: set LLAVA_FIXTURES (none found as shared/fixtures above ${process.cwd()})`,
    );
  return found;
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
