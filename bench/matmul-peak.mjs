// GFLOP/s of a 1024×1024 float32 matmul as the backend runs it. Run as a worker thread (started by
// `oneThreadPeak`), it measures what one ZeRO-2 rank gets: a worker's wasm backend has one thread.
import { performance } from "node:perf_hooks";
import { parentPort, Worker, workerData } from "node:worker_threads";
import { initBackend, wasmThreads } from "@llava-ts/core";
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
    const w = new Worker(new URL(import.meta.url), { workerData: { matmulPeakReps: reps } });
    w.once("message", (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once("error", reject);
  });
}

if (parentPort && workerData?.matmulPeakReps !== undefined) {
  await initBackend();
  parentPort.postMessage(measureMatmulPeak(workerData.matmulPeakReps));
}
