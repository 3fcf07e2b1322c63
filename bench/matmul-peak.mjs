// GFLOP/s of a 1024×1024 float32 matmul as the backend runs it. `oneThreadPeak` measures it in a worker
// thread (matmul-peak-worker.mjs): what one ZeRO-2 rank gets, a worker's wasm backend having one thread.
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { wasmThreads } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { median } from "./stats.mjs";

export function measureMatmulPeak(reps, warmup = 1) {
  const n = 1024;
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  const times = [];
  for (let i = 0; i < warmup + Math.max(reps, 5); i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const dt = (performance.now() - t0) / 1000;
    c.dispose();
    if (i >= warmup) times.push(dt);
  }
  tf.dispose([a, b]);
  const s = median(times);
  return { gflops: (2 * n ** 3) / s / 1e9, seconds: s, samples: times, threads: wasmThreads() || 1 };
}

/** The same measurement in a worker thread: the peak of one rank's single-threaded backend. */
export function oneThreadPeak(reps) {
  return new Promise((resolve, reject) => {
    // This module as the worker's own entry measured 13 GFLOP/s where the same code imported by another
    // entry measures 30 (and a rank, 30): the entry is a module of its own.
    const w = new Worker(new URL("./matmul-peak-worker.mjs", import.meta.url), {
      workerData: { matmulPeakReps: reps },
    });
    w.once("message", (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once("error", reject);
  });
}
