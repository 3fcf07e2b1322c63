// Reading a rank's ZeRO-2 optimizer state back: by flat range and parameter name, so a checkpoint written by
// any number of ranks (or a consolidated optimizer.safetensors) resumes on any number of ranks.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsFile } from "@llava-ts/core";
import { TrainingError } from "../training-error.js";
import type { FlatLayout } from "./flat-layout.js";
import {
  findStepDir,
  OPTIMIZER_FILE,
  readPartition,
  readPartitionsJson,
  type StatePartition,
  sliceOf,
  ZERO_LATEST_FILE,
  ZERO_PARTITIONS_FILE,
} from "./zero2-checkpoint.js";

/** This rank's state for flat range [lo, hi) of `layout`, from whichever form `dir` holds. */
export function readZeroOptimizerState(
  dir: string,
  layout: FlatLayout,
  lo: number,
  hi: number,
): { step: number; expAvg: Float32Array; expAvgSq: Float32Array } {
  const expAvg = new Float32Array(hi - lo);
  const expAvgSq = new Float32Array(hi - lo);
  const stepDir = findStepDir(dir);
  if (stepDir) {
    const json = readPartitionsJson(stepDir);
    const saved = new Map(json.params.map((p) => [p.name, p]));
    checkSameParameters(layout, saved, join(stepDir, ZERO_PARTITIONS_FILE));
    const files = new Map<number, StatePartition>(); // each needed rank file read once
    const read = (a: number, b: number, key: "expAvg" | "expAvgSq") => {
      for (const p of json.partitions)
        if (p.start < b && a < p.end && !files.has(p.rank)) files.set(p.rank, readPartition(stepDir, p));
      return sliceOf([...files.values()], a, b, key);
    };
    copyByName(layout, lo, hi, saved, read, expAvg, expAvgSq);
    return { step: json.step, expAvg, expAvgSq };
  }
  const consolidated = join(dir, OPTIMIZER_FILE);
  if (!existsSync(consolidated))
    throw new TrainingError(
      `${dir}: no ZeRO optimizer state (${ZERO_LATEST_FILE}, global_step*/) and no ${OPTIMIZER_FILE}`,
    );
  const file = SafetensorsFile.open(consolidated);
  try {
    const step = Number(file.metadata.step);
    if (!Number.isInteger(step) || step < 0)
      throw new TrainingError(`${consolidated}: bad step "${file.metadata.step}" in metadata`);
    const keys = new Set(file.keys());
    const trained = new Set(layout.params.map((p) => p.name));
    const unknown = [...new Set([...keys].map((k) => k.replace(/\.exp_avg(_sq)?$/, "")))].filter(
      (n) => !trained.has(n),
    );
    if (unknown.length)
      throw new TrainingError(
        `${consolidated}: optimizer state for ${unknown.length} parameter(s) that are not trained now: ${unknown.slice(0, 5).join(", ")}`,
      );
    layout.params.forEach((p) => {
      const a = Math.max(lo, p.offset);
      const b = Math.min(hi, p.offset + p.size);
      if (a >= b || !keys.has(`${p.name}.exp_avg`)) return; // torch-style lazy state: never stepped = zeros
      const m = file.read(`${p.name}.exp_avg`).data as Float32Array;
      const v = file.read(`${p.name}.exp_avg_sq`).data as Float32Array;
      if (m.length !== p.size)
        throw new TrainingError(
          `${consolidated}: state of ${p.name} has ${m.length} values, the parameter ${p.size}`,
        );
      expAvg.set(m.subarray(a - p.offset, b - p.offset), a - lo);
      expAvgSq.set(v.subarray(a - p.offset, b - p.offset), a - lo);
    });
    return { step, expAvg, expAvgSq };
  } finally {
    file.close();
  }
}

function checkSameParameters(layout: FlatLayout, saved: Map<string, { size: number }>, source: string): void {
  const missing = layout.params.filter((p) => !saved.has(p.name)).map((p) => p.name);
  const current = new Set(layout.params.map((p) => p.name));
  const extra = [...saved.keys()].filter((n) => !current.has(n));
  const resized = layout.params.filter((p) => saved.has(p.name) && saved.get(p.name)!.size !== p.size);
  if (missing.length || extra.length || resized.length)
    throw new TrainingError(
      `${source}: the trained parameters differ from the checkpoint's: ${missing.length} new (${missing.slice(0, 3).join(", ")}), ` +
        `${extra.length} gone (${extra.slice(0, 3).join(", ")}), ${resized.length} resized (${resized
          .map((p) => p.name)
          .slice(0, 3)
          .join(", ")})`,
    );
}

/** Copies state for current flat range [lo, hi) from saved flat ranges, matching parameters by name. */
function copyByName(
  layout: FlatLayout,
  lo: number,
  hi: number,
  saved: Map<string, { offset: number }>,
  read: (a: number, b: number, key: "expAvg" | "expAvgSq") => Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
): void {
  for (const p of layout.params) {
    const a = Math.max(lo, p.offset);
    const b = Math.min(hi, p.offset + p.size);
    if (a >= b) continue;
    const from = saved.get(p.name)!.offset + (a - p.offset);
    expAvg.set(read(from, from + b - a, "expAvg"), a - lo);
    expAvgSq.set(read(from, from + b - a, "expAvgSq"), a - lo);
  }
}
