// Backend selection. Node: native TensorFlow when its optional package is installed, else wasm, else cpu.
// Browser: WebGPU, then WebGL — each when the page imported its tfjs backend package (so a page that wants
// only wasm does not ship them) and the browser offers it on a hardware GPU — then wasm, then cpu.
import * as tf from "@tensorflow/tfjs-core";
// The pure-JS fallback registers itself on import, so tensors work even before initBackend() runs.
import "@tensorflow/tfjs-backend-cpu";
import "./tfjs-registrations.js";
import { envVar, hasNodeBuiltins, nodeBuiltin } from "@llava-ts/files";
import { ConfigError } from "../errors.js";
import { processWide } from "./process-wide.js";
import { type GpuAdapterInfo, isSoftwareAdapter, softwareWebglRenderer } from "./software-gpu.js";
import { guardCurrentWasmHeap } from "./wasm-heap-guard.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { registerThreadedWasm } from "./wasm-threads.js";

export type BackendName = "tensorflow" | "webgpu" | "webgl" | "wasm" | "cpu";

const BACKENDS: readonly BackendName[] = ["tensorflow", "webgpu", "webgl", "wasm", "cpu"];

export interface InitBackendOptions {
  /** Force a backend; defaults to the LLAVA_BACKEND environment variable, then the best available. */
  backend?: BackendName;
  /**
   * Threads for the wasm backend's matmuls and convolutions (XNNPACK): default the LLAVA_THREADS environment
   * variable, else every core on the main thread and 1 in a worker thread (a ZeRO-2 rank is one core).
   * Fixed by the first call that initialises wasm in a process.
   */
  threads?: number;
  /**
   * Where a browser finds tfjs' .wasm files: a URL prefix, or a map from file name
   * (`tfjs-backend-wasm-simd.wasm`, …) to URL, as tfjs' `setWasmPaths` takes. Under Node they are found in
   * node_modules.
   */
  wasmPaths?: string | Record<string, string>;
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
  const env = envVar("LLAVA_THREADS");
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1)
      throw new ConfigError(`LLAVA_THREADS must be a positive integer, got "${env}"`, "LLAVA_THREADS");
    return n;
  }
  if (!hasNodeBuiltins())
    return (
      (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1
    );
  const { isMainThread } = nodeBuiltin("node:worker_threads", "counting threads");
  return isMainThread ? nodeBuiltin("node:os", "counting threads").availableParallelism() : 1;
}

const state = processWide("backend", () => ({
  initialised: new Set<BackendName>(),
  /** Threads of the wasm backend, fixed when it is first set up. */
  wasmThreads: undefined as number | undefined,
}));

async function useWasm(threads: number, wasmPaths: InitBackendOptions["wasmPaths"]): Promise<boolean> {
  // Under Node the wasm binaries sit beside the package's JS in node_modules; a page says where it serves
  // them. The literal specifier lets a bundler include the package.
  let wasm: typeof import("@tensorflow/tfjs-backend-wasm");
  try {
    wasm = await import("@tensorflow/tfjs-backend-wasm");
  } catch {
    return false;
  }
  if (wasmPaths !== undefined) wasm.setWasmPaths(wasmPaths as Parameters<typeof wasm.setWasmPaths>[0]);
  if (state.wasmThreads === undefined && !hasNodeBuiltins()) {
    // tfjs would pick its threaded build on a cross-origin isolated page, but that build's pthread worker
    // (a Blob of source text) fails in a bundled page ("e is not defined"); the SIMD build works everywhere.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    state.wasmThreads = 1;
  }
  if (state.wasmThreads === undefined) {
    let threaded = false;
    try {
      threaded = threads > 1 && (await registerThreadedWasm(threads));
    } catch (e) {
      // e.g. no writable temp folder for the pthread worker: the single-threaded build still works.
      if (envVar("LLAVA_DEBUG"))
        console.warn(`llava-ts: threaded wasm unavailable (${(e as Error).message}); using one thread`);
    }
    state.wasmThreads = threaded ? threads : 1;
  }
  if (!(await tf.setBackend("wasm"))) return false;
  guardCurrentWasmHeap();
  registerWasmKernels();
  return true;
}

interface Dawn {
  create(options: string[]): { requestAdapter(): Promise<unknown | null> };
  globals: Record<string, unknown>;
}

/**
 * WebGPU under Node: the optional `webgpu` package (Dawn) provides `navigator.gpu`, on which tfjs' webgpu
 * backend (optional `@tensorflow/tfjs-backend-webgpu`) runs. Without them or without a GPU adapter: one
 * ConfigError saying so. Specifiers are variables so that bundlers for the browser leave them alone.
 */
async function useNodeWebgpu(): Promise<boolean> {
  const packages = ["webgpu", "@tensorflow/tfjs-backend-webgpu"];
  let dawn: Dawn;
  try {
    dawn = (await import(/* @vite-ignore */ packages[0])) as Dawn;
  } catch {
    throw new ConfigError(
      "LLAVA_BACKEND=webgpu under Node needs the optional packages webgpu and @tensorflow/tfjs-backend-webgpu (npm i webgpu @tensorflow/tfjs-backend-webgpu)",
      "LLAVA_BACKEND",
    );
  }
  const gpu = dawn.create([]);
  if (!(await gpu.requestAdapter()))
    throw new ConfigError(
      "LLAVA_BACKEND=webgpu: no WebGPU adapter on this machine (Dawn found no GPU); use wasm or tensorflow",
      "LLAVA_BACKEND",
    );
  Object.assign(globalThis, dawn.globals);
  const g = globalThis as { navigator?: object };
  if (g.navigator) Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true });
  if (!(await tryImport(packages[1])))
    throw new ConfigError(
      "LLAVA_BACKEND=webgpu under Node needs the optional package @tensorflow/tfjs-backend-webgpu",
      "LLAVA_BACKEND",
    );
  return tf.setBackend("webgpu");
}

/**
 * A GPU backend the page registered (by importing its tfjs package) and the browser can run. `hardwareOnly`
 * (the automatic choice) passes over a GPU drawn by the CPU: in the example page a warm forward of the fixture
 * LLaVA takes 6–13 ms on wasm (SIMD, one thread), 51–85 ms on WebGL over SwiftShader and 234–430 ms on WebGPU
 * over SwiftShader; even tfjs' pure-JS cpu backend takes 38–43 ms (docs/browser.md). Asked for by name, any
 * adapter and renderer are used.
 */
async function useBrowserGpu(name: "webgpu" | "webgl", hardwareOnly: boolean): Promise<boolean> {
  if (!tf.findBackendFactory(name)) return false;
  if (name === "webgpu") {
    const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<GpuAdapterInfo | null> } } })
      .navigator?.gpu;
    const adapter = await gpu?.requestAdapter().catch(() => null);
    if (!adapter) return false;
    if (hardwareOnly && isSoftwareAdapter(adapter)) return false;
  } else if (hardwareOnly && softwareWebglRenderer() !== undefined) return false;
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Picks and initialises the TensorFlow.js backend once per process and returns its name.
 * Node: `tensorflow` (tfjs-node-gpu, then tfjs-node) → `wasm` → `cpu`. Browser: `webgpu` → `webgl` on a
 * hardware GPU (each when its tfjs package was imported) → `wasm` → `cpu`.
 * `backend` or `LLAVA_BACKEND` forces one, on any adapter; `webgpu` under Node runs on the optional `webgpu`
 * package (Dawn).
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendName> {
  const requested = options.backend ?? (envVar("LLAVA_BACKEND") as BackendName | undefined);
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1))
    throw new ConfigError(`threads must be a positive integer, got ${options.threads}`, "threads");
  if (requested !== undefined && !BACKENDS.includes(requested))
    throw new ConfigError(`unknown backend "${requested}"; expected ${BACKENDS.join(", ")}`, "LLAVA_BACKEND");
  const threads = options.threads ?? defaultThreads();
  const current = tf.getBackend() as BackendName | undefined;
  if (current && (requested === undefined || requested === current) && state.initialised.has(current))
    return current;

  // Chosen automatically, a GPU backend must be a hardware one; asked for by name, any adapter is used.
  const automatic = requested === undefined;
  const attempts: Record<BackendName, () => Promise<boolean>> = {
    tensorflow: useTensorflow,
    webgpu: () => (hasNodeBuiltins() ? useNodeWebgpu() : useBrowserGpu("webgpu", automatic)),
    webgl: () => useBrowserGpu("webgl", automatic),
    wasm: () => useWasm(threads, options.wasmPaths),
    cpu: () => tf.setBackend("cpu"),
  };
  // PROD silences tfjs' console banners ("install our node backend"), which would only confuse users here.
  if (!envVar("LLAVA_DEBUG")) tf.env().set("PROD", true);
  const order: BackendName[] = requested
    ? [requested]
    : hasNodeBuiltins()
      ? ["tensorflow", "wasm", "cpu"]
      : ["webgpu", "webgl", "wasm", "cpu"];
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
