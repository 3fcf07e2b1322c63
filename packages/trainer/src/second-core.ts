// The optimizer's element-wise passes on two cores. With the threaded wasm backend XNNPACK runs the
// matmuls on every core, but AdamW and the gradient norm are JS loops over ~100 M values on the main thread
// while the other core idles (0.55 s + 0.2 s of a 4 s freeze_vision step on the bench model). When every
// array involved lives in shared memory — the wasm heap is a SharedArrayBuffer on the threaded build, and
// the trainer allocates its gradients and AdamW state there — a helper thread takes the second half of
// each long loop. AdamW runs the same code on each value, so its results are bit-identical to one thread;
// a sum of squares adds its two halves in double.
import { availableParallelism } from "node:os";
import { isMainThread, Worker } from "node:worker_threads";
import { type AdamWHyper, adamwUpdate } from "./adamw.js";
import { TrainingError } from "./training-error.js";

/** Loops shorter than this run on the calling thread alone (a hand-off costs ~0.1 ms). */
const MIN_SPLIT = 1 << 18;

/** A Float32Array in shared memory when the machine has a second core to use, else an ordinary one. */
export function sharedFloat32(length: number): Float32Array {
  return helperWanted() ? new Float32Array(new SharedArrayBuffer(4 * length)) : new Float32Array(length);
}

/** Main thread of a multi-core machine (a ZeRO-2 rank is one core: it never takes a second). */
function helperWanted(): boolean {
  return isMainThread && availableParallelism() > 1 && process.env.LLAVA_THREADS !== "1";
}

const isShared = (a: Float32Array) => a.buffer instanceof SharedArrayBuffer;

type Job =
  | {
      kind: "adamw";
      arrays: Float32Array[]; // p, g, m, v, source (views; the helper re-creates them on the same memory)
      from: number;
      to: number;
      step: number;
      h: AdamWHyper;
    }
  | { kind: "sumsq"; arrays: Float32Array[]; from: number; to: number };

/** The helper thread's source: adamwUpdate itself (its compiled text) and a job loop. */
function helperSource(): string {
  return `
const { parentPort } = require("node:worker_threads");
const adamwUpdate = ${adamwUpdate.toString()};
parentPort.on("message", ({ job, done }) => {
  let state = 1;
  let sum = 0;
  try {
    const a = job.arrays;
    if (job.kind === "adamw") adamwUpdate(a[0], a[1], a[2], a[3], job.step, job.h, job.from, job.to, a[4]);
    else for (let i = job.from; i < job.to; i++) sum += a[0][i] * a[0][i];
  } catch (e) {
    state = 2; // the waiting thread throws instead of waiting forever
    console.error(e);
  }
  new Float64Array(done.buffer, 8, 1)[0] = sum;
  Atomics.store(done, 0, state);
  Atomics.notify(done, 0);
});`;
}

class SecondCore {
  private readonly worker: Worker;
  private readonly done = new Int32Array(new SharedArrayBuffer(16));

  constructor() {
    this.worker = new Worker(helperSource(), { eval: true });
    this.worker.unref(); // an idle helper never keeps the process alive
  }

  /** Starts `job` on the helper; `wait()` blocks until it is done and returns its partial sum. */
  start(job: Job): void {
    jobs++;
    Atomics.store(this.done, 0, 0);
    this.worker.postMessage({ job, done: this.done });
  }

  wait(): number {
    while (Atomics.load(this.done, 0) === 0) Atomics.wait(this.done, 0, 0, 1000);
    if (Atomics.load(this.done, 0) === 2)
      throw new TrainingError("the optimizer's helper thread failed (its error is on stderr)");
    return new Float64Array(this.done.buffer, 8, 1)[0];
  }
}

let helper: SecondCore | undefined;
let jobs = 0;

/** Loops handed to the helper thread so far in this thread (diagnostics and tests). */
export function secondCoreJobs(): number {
  return jobs;
}

function secondCore(arrays: Float32Array[], length: number): SecondCore | undefined {
  if (length < MIN_SPLIT || !helperWanted() || !arrays.every(isShared)) return undefined;
  helper ??= new SecondCore();
  return helper;
}

/** adamwUpdate over [0, p.length), the upper half on the helper thread when everything is shared. */
export function adamwUpdateParallel(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  step: number,
  h: AdamWHyper,
  source: Float32Array = p,
): void {
  const n = p.length;
  const core = secondCore([p, g, m, v, source], n);
  if (!core) {
    adamwUpdate(p, g, m, v, step, h, 0, n, source);
    return;
  }
  const mid = n >> 1;
  core.start({ kind: "adamw", arrays: [p, g, m, v, source], from: mid, to: n, step, h });
  adamwUpdate(p, g, m, v, step, h, 0, mid, source);
  core.wait();
}

/** Σ x² in double; the upper half on the helper thread when `x` is shared. */
export function sumOfSquaresParallel(x: Float32Array): number {
  const n = x.length;
  const core = secondCore([x], n);
  const mid = core ? n >> 1 : n;
  core?.start({ kind: "sumsq", arrays: [x], from: mid, to: n });
  let s = 0;
  for (let i = 0; i < mid; i++) s += x[i] * x[i];
  return core ? s + core.wait() : s;
}
