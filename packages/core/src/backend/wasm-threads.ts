// The wasm backend on more than one core. tfjs-backend-wasm ships a multi-threaded SIMD build (XNNPACK on
// a pthread pool) but never picks it under Node: its WASM_HAS_MULTITHREAD_SUPPORT flag is hard-wired to
// false there (tensorflow/tfjs#3830), and its C++ start-up takes half the logical core count (it assumes
// hyper-threads), so a 2-vCPU machine would get one thread anyway. Here the "wasm" backend is registered
// on the threaded build with the number of threads asked for. Everything else — kernels, BackendWasm, the
// heap — is tfjs' own; the heap becomes a SharedArrayBuffer, which our kernels read like any other.
import { envVar, nodeBuiltin } from "@llava-ts/files";
import * as tf from "@tensorflow/tfjs-core";
import { noteWasmOutput } from "./wasm-heap-guard.js";

const NEEDS = "the threaded wasm build under Node";

interface EmscriptenWorker {
  unref(): void;
}

interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread: { runningWorkers: EmscriptenWorker[] };
  tfjs?: Record<string, unknown>;
}

type Factory = (config: Record<string, unknown>) => Promise<ThreadedModule>;

/** The part of the WebAssembly global used here (the project's TypeScript lib has no DOM types). */
const WebAssemblyApi = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: unknown; module: unknown }>;
    };
  }
).WebAssembly;

interface WasmPackage {
  BackendWasm: new (module: unknown) => tf.KernelBackend;
  setThreadsCount(n: number): void;
}

/**
 * Emscripten's pthread worker as a file Node can start (its source ships as a string in the package). It
 * goes in a folder of this process's own, created with an unpredictable name and mode 0700, and removed at
 * exit: a file at a fixed path in the shared temp folder could be planted by another local user and
 * would then run inside every llava-ts process.
 */
function workerFile(contents: string): string {
  // Like tfjs' Blob for browsers, the template string's newlines inside string literals go back to \n.
  const source = contents.replace(/\n/g, "\\n");
  const dir = nodeBuiltin("node:fs", NEEDS).mkdtempSync(
    nodeBuiltin("node:path", NEEDS).join(nodeBuiltin("node:os", NEEDS).tmpdir(), "llava-ts-wasm-"),
  );
  const file = nodeBuiltin("node:path", NEEDS).join(dir, "tfjs-backend-wasm-threaded-simd.worker.cjs");
  nodeBuiltin("node:fs", NEEDS).writeFileSync(file, source, { mode: 0o600, flag: "wx" });
  // The pool may start more workers later (from the same file), so it stays until the process ends.
  process.once("exit", () => nodeBuiltin("node:fs", NEEDS).rmSync(dir, { recursive: true, force: true }));
  return file;
}

/**
 * Emscripten's stderr; its "worker sent an error!" echo only adds noise to the error the CLI reports, and an
 * XNNPACK failure is reported by the kernel that met it (noteWasmOutput).
 */
function printErr(text: string): void {
  if (noteWasmOutput(text) && !envVar("LLAVA_DEBUG")) return;
  if (envVar("LLAVA_DEBUG") || !text.startsWith("worker sent an error!")) console.error(text);
}

/** Emscripten's stdout: tfjs' C++ warnings (XNNPACK's failures among them) are printed there. */
function print(text: string): void {
  if (noteWasmOutput(text) && !envVar("LLAVA_DEBUG")) return;
  console.log(text);
}

/**
 * Registers tfjs' "wasm" backend on the threaded XNNPACK build with `threads` threads. Call before the
 * backend is first set; returns false (leaving the single-threaded backend) when the build is missing.
 */
export async function registerThreadedWasm(threads: number): Promise<boolean> {
  const require = nodeBuiltin("node:module", NEEDS).createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = nodeBuiltin("node:path", NEEDS).dirname(
      require.resolve("@tensorflow/tfjs-backend-wasm/package.json"),
    );
  } catch {
    return false;
  }
  const out = nodeBuiltin("node:path", NEEDS).join(pkgDir, "wasm-out");
  const wasmFile = nodeBuiltin("node:path", NEEDS).join(out, "tfjs-backend-wasm-threaded-simd.wasm");
  if (!nodeBuiltin("node:fs", NEEDS).existsSync(wasmFile)) return false;
  const factory = require(
    nodeBuiltin("node:path", NEEDS).join(out, "tfjs-backend-wasm-threaded-simd.js"),
  ) as Factory;
  const { wasmWorkerContents } = require(
    nodeBuiltin("node:path", NEEDS).join(out, "tfjs-backend-wasm-threaded-simd.worker.js"),
  ) as {
    wasmWorkerContents: string;
  };
  const worker = workerFile(wasmWorkerContents);
  const binary = nodeBuiltin("node:fs", NEEDS).readFileSync(wasmFile);
  // Emscripten's Node glue adds process handlers that rethrow every uncaught error from inside itself: Node
  // then reports it by quoting the glue's source line (30 kB of minified code) and exits 7. They go.
  const handlers = {
    uncaughtException: process.listeners("uncaughtException"),
    unhandledRejection: process.listeners("unhandledRejection"),
  };
  const module = await factory({
    print,
    printErr,
    locateFile: (path: string, prefix: string) =>
      path.endsWith(".worker.js") ? worker : path.endsWith(".wasm") ? wasmFile : prefix + path,
    // The C++ side sizes its pool as logical cores / 2 (capped by the threads asked for): report 2·threads.
    instantiateWasm(
      info: { env: Record<string, unknown> },
      receive: (instance: unknown, module: unknown) => void,
    ) {
      info.env.emscripten_num_logical_cores = () => 2 * threads;
      WebAssemblyApi.instantiate(binary, info).then(({ instance, module }) => receive(instance, module));
      return {};
    },
  });
  for (const listener of process.listeners("uncaughtException"))
    if (!handlers.uncaughtException.includes(listener)) process.removeListener("uncaughtException", listener);
  for (const listener of process.listeners("unhandledRejection"))
    if (!handlers.unhandledRejection.includes(listener))
      process.removeListener("unhandledRejection", listener);
  // The same bindings tfjs' own init() adds.
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  };
  const wasm = (await import("@tensorflow/tfjs-backend-wasm")) as unknown as WasmPackage;
  wasm.setThreadsCount(threads);
  if (tf.findBackendFactory("wasm")) tf.removeBackend("wasm");
  tf.registerBackend(
    "wasm",
    () => {
      const backend = new wasm.BackendWasm(module);
      // The pool's threads idle on a futex between kernels; they must not keep the process alive.
      for (const w of module.PThread.runningWorkers) w.unref();
      return backend;
    },
    2,
  );
  return true;
}

/** XNNPACK threads of the current wasm backend (1 on the single-threaded build). */
export function wasmThreads(): number {
  if (tf.getBackend() !== "wasm") return 0;
  const b = tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } };
  return Math.max(1, b.wasm.tfjs.getThreadsCount());
}
