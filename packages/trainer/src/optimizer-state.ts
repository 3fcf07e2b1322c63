// AdamW state as a safetensors file: "<param>.exp_avg" and "<param>.exp_avg_sq" per parameter (float32,
// exact), the step count and hyper-parameters in __metadata__. torch's optimizer.pt, without pickle.
import { SafetensorsFile, type TensorEntry, writeSafetensors } from "@llava-ts/core";
import type { AdamW } from "./adamw.js";
import { TrainingError } from "./training-error.js";

export const OPTIMIZER_FILE = "optimizer.safetensors";

export async function saveOptimizerState(optimizer: AdamW, path: string): Promise<void> {
  const entries: TensorEntry[] = [];
  for (const [name, s] of optimizer.state) {
    entries.push({ name: `${name}.exp_avg`, dtype: "F32", shape: [s.expAvg.length], read: () => s.expAvg });
    entries.push({
      name: `${name}.exp_avg_sq`,
      dtype: "F32",
      shape: [s.expAvgSq.length],
      read: () => s.expAvgSq,
    });
  }
  await writeSafetensors(path, entries, {
    format: "llava-ts.adamw",
    step: String(optimizer.stepCount),
    lr: String(optimizer.lr),
    betas: JSON.stringify(optimizer.betas),
    eps: String(optimizer.eps),
    weight_decay: String(optimizer.weightDecay),
  });
}

/** Restores state saved by saveOptimizerState; every stored parameter must exist with the same size. */
export function loadOptimizerState(optimizer: AdamW, path: string): void {
  const file = SafetensorsFile.open(path);
  try {
    const step = Number(file.metadata.step);
    if (!Number.isInteger(step) || step < 0)
      throw new TrainingError(`${path}: bad step "${file.metadata.step}" in metadata`);
    const sizes = new Map(optimizer.params.map((p) => [p.name, p.variable.size]));
    const names = new Set(file.keys().map((k) => k.replace(/\.exp_avg(_sq)?$/, "")));
    const unknown = [...names].filter((n) => !sizes.has(n));
    if (unknown.length)
      throw new TrainingError(
        `${path}: optimizer state for ${unknown.length} parameter(s) that are not trained now: ${unknown.slice(0, 5).join(", ")}`,
      );
    optimizer.state.clear();
    for (const name of names) {
      const expAvg = file.read(`${name}.exp_avg`).data as Float32Array;
      const expAvgSq = file.read(`${name}.exp_avg_sq`).data as Float32Array;
      if (expAvg.length !== sizes.get(name) || expAvgSq.length !== sizes.get(name))
        throw new TrainingError(
          `${path}: state of ${name} has ${expAvg.length} values, the parameter ${sizes.get(name)}`,
        );
      optimizer.state.set(name, { expAvg: Float32Array.from(expAvg), expAvgSq: Float32Array.from(expAvgSq) });
    }
    optimizer.stepCount = step;
  } finally {
    file.close();
  }
}
