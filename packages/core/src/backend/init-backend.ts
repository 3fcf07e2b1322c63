// Backend selection: native TensorFlow when its optional package is installed, else wasm, else cpu.
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import { registerWasmKernels } from "./wasm-kernels.js";

export type BackendName = "tensorflow" | "wasm" | "cpu";

export interface InitBackendOptions {
  /** Force a backend; defaults to the LLAVA_BACKEND environment variable, then the best available. */
  backend?: BackendName;
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

async function useWasm(): Promise<boolean> {
  // The wasm binaries sit beside the package's JS in node_modules; tfjs finds them there without a network.
  if (!(await tryImport("@tensorflow/tfjs-backend-wasm"))) return false;
  if (!(await tf.setBackend("wasm"))) return false;
  registerWasmKernels();
  return true;
}

/**
 * Picks and initialises the TensorFlow.js backend once per process and returns its name.
 * Order: `tensorflow` (tfjs-node-gpu, then tfjs-node) → `wasm` → `cpu`; `LLAVA_BACKEND` overrides.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendName> {
  const requested = options.backend ?? (process.env.LLAVA_BACKEND as BackendName | undefined);
  if (requested !== undefined && !["tensorflow", "wasm", "cpu"].includes(requested))
    throw new ConfigError(
      `unknown backend "${requested}"; expected tensorflow, wasm or cpu`,
      "LLAVA_BACKEND",
    );
  const current = tf.getBackend() as BackendName | undefined;
  if (current && (requested === undefined || requested === current) && initialised.has(current))
    return current;

  const attempts: Record<BackendName, () => Promise<boolean>> = {
    tensorflow: useTensorflow,
    wasm: useWasm,
    cpu: () => tf.setBackend("cpu"),
  };
  // PROD silences tfjs' console banners ("install our node backend"), which would only confuse users here.
  if (!process.env.LLAVA_DEBUG) tf.env().set("PROD", true);
  const order: BackendName[] = requested ? [requested] : ["tensorflow", "wasm", "cpu"];
  for (const name of order) {
    if (await attempts[name]()) {
      await tf.ready();
      initialised.add(name);
      return name;
    }
  }
  throw new ConfigError(
    `backend "${requested}" could not be initialised (is its package installed?)`,
    "LLAVA_BACKEND",
  );
}

const initialised = new Set<BackendName>();
