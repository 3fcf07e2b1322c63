// Long JS loops on two cores. With the threaded wasm backend XNNPACK runs the matmuls on every core, but
// the JS passes around them — AdamW and the gradient norm over ~100 M values, the fused cross-entropy's
// exponentials over N × 151,936 logits — ran on the main thread while the other core idled. When every
// array a loop touches lives in shared memory (the threaded build's wasm heap is a SharedArrayBuffer, and
// the trainer allocates its gradients and optimizer state with `sharedFloat32`), a helper thread runs the
// upper part of the loop while the caller runs the lower. The body is the same code on each index, so
// results are those of one thread; a loop's return value is the sum of the two parts.
import type { Worker } from "node:worker_threads";
import { envVar, hasNodeBuiltins, nodeBuiltin } from "@llava-ts/files";
import { LlavaError } from "../errors.js";

/**
 * A loop over indices [from, to) of `arrays`, returning a number (summed over the parts). It runs in the
 * helper from its source text: it may call only the functions passed as `deps` (declared by name, as
 * `function name(…) {…}`), never variables of its module.
 */
export type LoopBody = (arrays: Float32Array[], from: number, to: number, extra: unknown) => number;

/** Loops shorter than this (in units of work: indices × `weight`) stay on the calling thread. */
const MIN_WORK = 1 << 18;

/** Main thread of a multi-core machine (a ZeRO-2 rank is one core: it never takes a second). */
function helperWanted(): boolean {
  // In a browser the loops stay on the calling thread (a page's workers are not worker_threads).
  if (!hasNodeBuiltins()) return false;
  const { isMainThread } = nodeBuiltin("node:worker_threads", "the second-core helper");
  return (
    isMainThread &&
    nodeBuiltin("node:os", "the second-core helper").availableParallelism() > 1 &&
    envVar("LLAVA_THREADS") !== "1"
  );
}

/** A Float32Array in shared memory when there is a second core to use, else an ordinary one. */
export function sharedFloat32(length: number): Float32Array {
  return helperWanted() ? new Float32Array(new SharedArrayBuffer(4 * length)) : new Float32Array(length);
}

const HELPER = `
const { parentPort } = require("node:worker_threads");
const bodies = new Map();
parentPort.on("message", ({ source, arrays, from, to, extra, done }) => {
  let state = 1;
  let sum = 0;
  try {
    let body = bodies.get(source);
    if (!body) bodies.set(source, (body = (0, eval)(source)));
    sum = body(arrays, from, to, extra);
  } catch (e) {
    state = 2; // the caller throws instead of waiting forever
    console.error(e);
  }
  new Float64Array(done.buffer, 8, 1)[0] = sum;
  Atomics.store(done, 0, state);
  Atomics.notify(done, 0);
});`;

let worker: Worker | undefined;
const done = new Int32Array(new SharedArrayBuffer(16));
let jobs = 0;

/** Loops handed to the helper thread so far in this thread (diagnostics and tests). */
export function secondCoreJobs(): number {
  return jobs;
}

const sources = new WeakMap<LoopBody, string>();

/** The body with its dependencies, as one expression the helper evaluates once. */
function sourceOf(body: LoopBody, deps: readonly ((...a: never[]) => unknown)[]): string {
  let s = sources.get(body);
  if (!s) {
    s = `(() => { ${deps.map((d) => d.toString()).join("\n")}\n return (${body.toString()}); })()`;
    sources.set(body, s);
  }
  return s;
}

/**
 * `body(arrays, 0, n, extra)`, run as `body(…, 0, split)` here and `body(…, split, n)` on a helper
 * thread when every array is shared memory, the machine has a second core and the loop is long enough
 * (`n × weight` units, `weight` the work per index); else all here. Returns the sum of the parts.
 */
export function splitLoop(
  body: LoopBody,
  arrays: Float32Array[],
  n: number,
  options: { extra?: unknown; deps?: readonly ((...a: never[]) => unknown)[]; weight?: number } = {},
): number {
  const { extra, deps = [], weight = 1 } = options;
  const split = n >> 1;
  if (
    n * weight < MIN_WORK ||
    split === 0 ||
    !helperWanted() ||
    !arrays.every((a) => a.buffer instanceof SharedArrayBuffer)
  )
    return body(arrays, 0, n, extra);
  if (!worker) {
    const { Worker: NodeWorker } = nodeBuiltin("node:worker_threads", "the second-core helper");
    worker = new NodeWorker(HELPER, { eval: true });
    worker.unref(); // an idle helper never keeps the process alive
  }
  jobs++;
  Atomics.store(done, 0, 0);
  worker.postMessage({ source: sourceOf(body, deps), arrays, from: split, to: n, extra, done });
  let sum = 0;
  try {
    sum = body(arrays, 0, split, extra);
  } finally {
    while (Atomics.load(done, 0) === 0) Atomics.wait(done, 0, 0, 1000);
  }
  if (Atomics.load(done, 0) === 2)
    throw new LlavaError("the second-core helper thread failed (its error is on stderr)");
  return sum + new Float64Array(done.buffer, 8, 1)[0];
}
