// ZeRO-2 optimizer state in a checkpoint folder, laid out as DeepSpeed does: one file per rank's partition
// under global_step<N>/, a JSON describing the partition boundaries, and a `latest` file naming the step
// folder. Partitions are read by flat range, so a run may resume with any number of ranks; the
// consolidated form, optimizer.safetensors (per-parameter exp_avg / exp_avg_sq), is what one rank writes.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsFile, type TensorEntry, writeSafetensors } from "@llava-ts/core";
import { TrainingError } from "../training-error.js";
import type { FlatLayout } from "./flat-layout.js";

/** The state per parameter: what one rank writes, and the consolidated form of N ranks' partitions. */
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const ZERO_LATEST_FILE = "latest";
export const ZERO_PARTITIONS_FILE = "zero_partitions.json";

export const zeroStepDir = (step: number) => `global_step${step}`;
export const zeroRankFile = (rank: number) => `zero_pp_rank_${rank}_optim_states.safetensors`;

export interface AdamHyperJson {
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
}

/** One rank's slice of the flat AdamW state: flat range [start, end). */
export interface StatePartition {
  start: number;
  end: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

export interface ZeroPartitionsJson {
  format: "llava-ts.zero2";
  step: number;
  world_size: number;
  total: number;
  hyper: AdamHyperJson;
  params: { name: string; offset: number; size: number }[];
  partitions: { rank: number; start: number; end: number; file: string }[];
}

/** One rank's partition file, written by that rank (into a staging folder every rank can reach). */
export async function writeZeroPartition(
  dir: string,
  rank: number,
  worldSize: number,
  part: StatePartition,
  step: number,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const size = part.end - part.start;
  await writeSafetensors(
    join(dir, zeroRankFile(rank)),
    [
      { name: "exp_avg", dtype: "F32", shape: [size], read: () => part.expAvg },
      { name: "exp_avg_sq", dtype: "F32", shape: [size], read: () => part.expAvgSq },
    ],
    {
      format: "llava-ts.zero2",
      rank: String(rank),
      world_size: String(worldSize),
      start: String(part.start),
      end: String(part.end),
      step: String(step),
    },
  );
}

/**
 * Completes a checkpoint's ZeRO optimizer state (rank 0, once every rank has written its partition into
 * `dir`/global_step<N>/): the layout JSON, `latest`, and with `consolidate` optimizer.safetensors.
 */
export async function writePartitionsJson(
  dir: string,
  layout: FlatLayout,
  ranges: readonly [number, number][],
  step: number,
  hyper: AdamHyperJson,
  consolidate = false,
): Promise<void> {
  const stepDir = join(dir, zeroStepDir(step));
  const json: ZeroPartitionsJson = {
    format: "llava-ts.zero2",
    step,
    world_size: ranges.length,
    total: layout.total,
    hyper,
    params: layout.params.map(({ name, offset, size }) => ({ name, offset, size })),
    partitions: ranges.map(([start, end], rank) => ({ rank, start, end, file: zeroRankFile(rank) })),
  };
  for (const p of json.partitions)
    if (!existsSync(join(stepDir, p.file)))
      throw new TrainingError(
        `ZeRO checkpoint: rank ${p.rank}'s partition ${join(stepDir, p.file)} is missing`,
      );
  writeFileSync(join(stepDir, ZERO_PARTITIONS_FILE), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(dir, ZERO_LATEST_FILE), zeroStepDir(step));
  if (consolidate) {
    const parts = json.partitions.map((p) => readPartition(stepDir, p));
    await writeConsolidated(join(dir, OPTIMIZER_FILE), json, (lo, hi, key) => sliceOf(parts, lo, hi, key));
  }
}

/** Writes optimizer.safetensors (what one rank saves) from a checkpoint's ZeRO partitions. */
export async function consolidateZeroCheckpoint(dir: string): Promise<string> {
  const stepDir = findStepDir(dir);
  if (!stepDir) throw new TrainingError(`${dir}: no ZeRO optimizer state to consolidate`);
  const json = readPartitionsJson(stepDir);
  const parts = json.partitions.map((p) => readPartition(stepDir, p));
  const out = join(dir, OPTIMIZER_FILE);
  await writeConsolidated(out, json, (lo, hi, key) => sliceOf(parts, lo, hi, key));
  return out;
}

export function findStepDir(dir: string): string | undefined {
  const latest = join(dir, ZERO_LATEST_FILE);
  if (existsSync(latest)) return join(dir, readFileSync(latest, "utf8").trim());
  const steps = existsSync(dir) ? readdirSync(dir).filter((n) => /^global_step\d+$/.test(n)) : [];
  if (steps.length > 1)
    throw new TrainingError(`${dir}: several global_step folders and no ${ZERO_LATEST_FILE} file`);
  return steps.length ? join(dir, steps[0]) : undefined;
}

export function readPartitionsJson(stepDir: string): ZeroPartitionsJson {
  const path = join(stepDir, ZERO_PARTITIONS_FILE);
  try {
    const json = JSON.parse(readFileSync(path, "utf8")) as ZeroPartitionsJson;
    if (json.format !== "llava-ts.zero2") throw new Error(`format is "${json.format}"`);
    return json;
  } catch (e) {
    throw new TrainingError(`cannot read ZeRO partitions from ${path}: ${(e as Error).message}`);
  }
}

export function readPartition(stepDir: string, p: ZeroPartitionsJson["partitions"][number]): StatePartition {
  const path = join(stepDir, p.file);
  const file = SafetensorsFile.open(path);
  try {
    const expAvg = file.read("exp_avg").data as Float32Array;
    const expAvgSq = file.read("exp_avg_sq").data as Float32Array;
    if (expAvg.length !== p.end - p.start || expAvgSq.length !== p.end - p.start)
      throw new TrainingError(`${path}: ${expAvg.length} values for partition [${p.start}, ${p.end})`);
    return { start: p.start, end: p.end, expAvg, expAvgSq };
  } finally {
    file.close();
  }
}

/** Flat range [lo, hi) assembled from partitions that cover it. */
export function sliceOf(
  parts: readonly StatePartition[],
  lo: number,
  hi: number,
  key: "expAvg" | "expAvgSq",
): Float32Array {
  const out = new Float32Array(hi - lo);
  let covered = 0;
  for (const p of parts) {
    const a = Math.max(lo, p.start);
    const b = Math.min(hi, p.end);
    if (a >= b) continue;
    out.set(p[key].subarray(a - p.start, b - p.start), a - lo);
    covered += b - a;
  }
  if (covered !== hi - lo)
    throw new TrainingError(`ZeRO state: flat range [${lo}, ${hi}) is not covered by the partitions`);
  return out;
}

/** The state per parameter (`<name>.exp_avg`, `<name>.exp_avg_sq`), read by flat range through `slice`. */
export async function writeConsolidated(
  path: string,
  json: Pick<ZeroPartitionsJson, "step" | "hyper" | "params">,
  slice: (lo: number, hi: number, key: "expAvg" | "expAvgSq") => Float32Array,
): Promise<void> {
  const entries: TensorEntry[] = json.params.flatMap((p) => [
    {
      name: `${p.name}.exp_avg`,
      dtype: "F32",
      shape: [p.size],
      read: () => slice(p.offset, p.offset + p.size, "expAvg"),
    },
    {
      name: `${p.name}.exp_avg_sq`,
      dtype: "F32",
      shape: [p.size],
      read: () => slice(p.offset, p.offset + p.size, "expAvgSq"),
    },
  ]);
  await writeSafetensors(path, entries, {
    format: "llava-ts.adamw",
    step: String(json.step),
    lr: String(json.hyper.lr),
    betas: JSON.stringify(json.hyper.betas),
    eps: String(json.hyper.eps),
    weight_decay: String(json.hyper.weight_decay),
  });
}
