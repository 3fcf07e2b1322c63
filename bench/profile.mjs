// Where the seconds of one training step go: every kernel of forward + backward timed by tf.profile,
// summed by kernel name (and by name + shapes for the top entries), plus the trainer's own phases.
// `node bench/profile.mjs freeze_vision|use_lora [--top 25] [--rows 2]` (after a warm-up step); --rows 2
// with LLAVA_THREADS=1 is one of two ZeRO-2 ranks' share of the bench batch.
import { performance } from "node:perf_hooks";
import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { benchBatch, buildBenchModel, LORA } from "./bench-model.mjs";

const strategy = process.argv[2] ?? "use_lora";
const top = Number(process.argv[process.argv.indexOf("--top") + 1]) || 25;
await initBackend();
const { applyStrategy, llavaTask, LocalCollective } = await import("@llava-ts/trainer");
const { PartitionedAdamW, accumulateGradients } = await import("@llava-ts/trainer/internal");
const model = buildBenchModel();
applyStrategy(model, strategy, strategy === "use_lora" ? { lora: LORA } : {});
const params = model.trainableParameters().map(([name, variable]) => ({ name, variable, decay: true }));
const optimizer = new PartitionedAdamW(params, { lr: 1e-4, collective: new LocalCollective() });
const buffer = optimizer.grads;
const rows = Number(process.argv[process.argv.indexOf("--rows") + 1]) || undefined;
const batch = benchBatch(rows);
const task = llavaTask(model);

async function step() {
  const phases = {};
  let t = performance.now();
  const prepared = task.prepare(batch);
  phases.prepare_frozen_tower = performance.now() - t;
  t = performance.now();
  buffer.reset();
  // The trainer's own backward pass: the tape, dense gradients and row gradients into the buffer.
  accumulateGradients(prepared, params, buffer, { accum: 1, step: 1, micro: 0 });
  phases.forward_backward_to_buffer = performance.now() - t;
  t = performance.now();
  await optimizer.step(1e-4, 1); // the global norm, clipping folded into AdamW, as the trainer does
  phases.norm_and_adamw = performance.now() - t;
  return phases;
}

await step(); // warm-up
const t0 = performance.now();
const info = await tf.profile(async () => {
  await step();
});
const wall = performance.now() - t0;
const t1 = performance.now();
const unprofiled = await step();
const plainWall = performance.now() - t1;
const byName = new Map();
const byShape = new Map();
for (const k of info.kernels) {
  const ms = await k.kernelTimeMs;
  const n = byName.get(k.name) ?? { ms: 0, calls: 0 };
  n.ms += ms;
  n.calls++;
  byName.set(k.name, n);
  const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
  const s = byShape.get(key) ?? { ms: 0, calls: 0 };
  s.ms += ms;
  s.calls++;
  byShape.set(key, s);
}
const total = [...byName.values()].reduce((a, b) => a + b.ms, 0);
console.log(
  `${strategy}: wall ${(wall / 1000).toFixed(2)} s (profiled), kernels ${(total / 1000).toFixed(2)} s, ${info.kernels.length} kernel calls, peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB`,
);
console.log(
  `unprofiled step ${(plainWall / 1000).toFixed(2)} s; phases (ms):`,
  Object.fromEntries(Object.entries(unprofiled).map(([k, v]) => [k, Math.round(v)])),
);
console.log("\nby kernel:");
for (const [name, v] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, top))
  console.log(
    `  ${name.padEnd(24)} ${(v.ms / 1000).toFixed(3).padStart(8)} s ${((100 * v.ms) / total).toFixed(1).padStart(5)}%  ${v.calls} calls`,
  );
console.log("\nby kernel and input shapes:");
for (const [key, v] of [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, top))
  console.log(`  ${(v.ms / 1000).toFixed(3).padStart(8)} s ${String(v.calls).padStart(4)}×  ${key}`);
