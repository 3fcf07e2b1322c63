// Backend selection: native TensorFlow when its optional package is installed, else wasm, else cpu.
import { availableParallelism } from "node:os";
import { isMainThread } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
// The pure-JS fallback registers itself on import, so tensors work even before initBackend() runs.
import "@tensorflow/tfjs-backend-cpu";
import "./tfjs-registrations.js";
import { ConfigError } from "../errors.js";
import { processWide } from "./process-wide.js";
import { guardCurrentWasmHeap } from "./wasm-heap-guard.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { registerThreadedWasm } from "./wasm-threads.js";

export type BackendName = "tensorflow" | "wasm" | "cpu";

export interface InitBackendOptions {
  /** Force a backend; defaults to the LLAVA_BACKEND environment variable, then the best available. */
  backend?: BackendName;
  /**
   * Threads for the wasm backend's matmuls and convolutions (XNNPACK): default the LLAVA_THREADS environment
   * variable, else every core on the main thread and 1 in a worker thread (a ZeRO-2 rank is one core).
   * Fixed by the first call that initialises wasm in a process.
   */
  threads?: number;
}

const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;

async function tryImport(name: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ name);
    return true;
  } catch {
    return false;
  }
}

async function useTensorflow(): Promise<boolean> {
  for (const name of NATIVE_PACKAGES) if (await tryImport(name)) return tf.setBackend("tensorflow");
  return false;
}

/** LLAVA_THREADS, else all cores on the main thread and one in a worker thread. */
function defaultThreads(): number {
  const env = process.env.LLAVA_THREADS;
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1)
      throw new ConfigError(`LLAVA_THREADS must be a positive integer, got "${env}"`, "LLAVA_THREADS");
    return n;
  }
  return isMainThread ? availableParallelism() : 1;
}

const state = processWide("backend", () => ({
  initialised: new Set<BackendName>(),
  /** Threads of the wasm backend, fixed when it is first set up. */
  wasmThreads: undefined as number | undefined,
}));

async function useWasm(threads: number): Promise<boolean> {
  // The wasm binaries sit beside the package's JS in node_modules; tfjs finds them there without a network.
  if (!(await tryImport("@tensorflow/tfjs-backend-wasm"))) return false;
  if (state.wasmThreads === undefined) {
    let threaded = false;
    try {
      threaded = threads > 1 && (await registerThreadedWasm(threads));
    } catch (e) {
      // e.g. no writable temp folder for the pthread worker: the single-threaded build still works.
      if (process.env.LLAVA_DEBUG)
        console.warn(`llava-ts: threaded wasm unavailable (${(e as Error).message}); using one thread`);
    }
    state.wasmThreads = threaded ? threads : 1;
  }
  if (!(await tf.setBackend("wasm"))) return false;
  guardCurrentWasmHeap();
  registerWasmKernels();
  return true;
}

/**
 * Picks and initialises the TensorFlow.js backend once per process and returns its name.
 * Order: `tensorflow` (tfjs-node-gpu, then tfjs-node) → `wasm` → `cpu`; `LLAVA_BACKEND` overrides.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendName> {
  const requested = options.backend ?? (process.env.LLAVA_BACKEND as BackendName | undefined);
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1))
    throw new ConfigError(`threads must be a positive integer, got ${options.threads}`, "threads");
  if (requested !== undefined && !["tensorflow", "wasm", "cpu"].includes(requested))
    throw new ConfigError(
      `unknown backend "${requested}"; expected tensorflow, wasm or cpu`,
      "LLAVA_BACKEND",
    );
  const threads = options.threads ?? defaultThreads();
  const current = tf.getBackend() as BackendName | undefined;
  if (current && (requested === undefined || requested === current) && state.initialised.has(current))
    return current;

  const attempts: Record<BackendName, () => Promise<boolean>> = {
    tensorflow: useTensorflow,
    wasm: () => useWasm(threads),
    cpu: () => tf.setBackend("cpu"),
  };
  // PROD silences tfjs' console banners ("install our node backend"), which would only confuse users here.
  if (!process.env.LLAVA_DEBUG) tf.env().set("PROD", true);
  const order: BackendName[] = requested ? [requested] : ["tensorflow", "wasm", "cpu"];
  for (const name of order) {
    if (await attempts[name]()) {
      await tf.ready();
      state.initialised.add(name);
      return name;
    }
  }
  throw new ConfigError(
    `backend "${requested}" could not be initialised (is its package installed?)`,
    "LLAVA_BACKEND",
  );
}
