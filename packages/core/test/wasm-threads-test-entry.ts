// Test entry for wasm-threads.test.ts, run as a worker thread (single-threaded wasm) or as a child
// process (the threaded build on its main thread): initialises the backend, computes fixed products and
// reports them — posted to the parent thread, or printed as JSON. A child process must then exit by
// itself: the thread pool may not keep it alive.
import { readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/init-backend.js";
import { wasmThreads } from "../src/backend/wasm-threads.js";

export interface ThreadsReport {
  threads: number;
  /** [64, 300]·[300, 200] and a [2, 16, 16, 3] * [3, 3, 3, 8] convolution, flattened. */
  product: number[];
  conv: number[];
  /** The temp folder's entries while the backend runs, as "name mode" (octal), for the temp-file test. */
  tmp?: string[];
}

export function seededValues(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));
}

export function compute(): Omit<ThreadsReport, "threads"> {
  return tf.tidy(() => {
    const a = tf.tensor(seededValues(64 * 300, 1), [64, 300]);
    const b = tf.tensor(seededValues(300 * 200, 2), [300, 200]);
    const x = tf.tensor(seededValues(2 * 16 * 16 * 3, 3), [2, 16, 16, 3]);
    const k = tf.tensor(seededValues(3 * 3 * 3 * 8, 4), [3, 3, 3, 8]);
    return {
      product: Array.from(tf.matMul(a, b).dataSync()),
      conv: Array.from(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, "same").dataSync()),
    };
  });
}

const asWorker = parentPort !== null && workerData?.llavaThreadsTest === true;
const asProcess = process.env.LLAVA_THREADS_TEST_ENTRY === "1";
if (asWorker || asProcess) {
  await initBackend({ backend: "wasm" });
  // An error nobody catches, as a user's script may leave one.
  if (asProcess && process.env.LLAVA_THREADS_TEST_THROW) throw new RangeError("left uncaught on purpose");
  const tmp = readdirSync(tmpdir()).map(
    (n) => `${n} ${(statSync(join(tmpdir(), n)).mode & 0o777).toString(8)}`,
  );
  const report: ThreadsReport = { threads: wasmThreads(), ...compute(), tmp };
  if (asWorker) parentPort!.postMessage(report);
  else process.stdout.write(JSON.stringify(report));
}
