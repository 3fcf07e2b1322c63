// loadAdapter: PeftModel.from_pretrained for LoRA. Which layers get adapters follows the file, not
// target_modules or a scope, so an adapter trained anywhere (vision tower included) loads as it was trained.
import {
  type AsyncFolderSource,
  FormatError,
  Linear,
  LlavaError,
  type Module,
  Rng,
  readFolderJson,
  SafetensorsFile,
  toModelFolder,
  WeightLoadError,
  type WeightMismatch,
} from "@llava-ts/core";
import { localPath, nodeBuiltin } from "@llava-ts/files";
import { type LoraConfig, parseLoraConfig, readLoraConfig } from "./lora-config.js";
import {
  findModulesToSave,
  layerSeed,
  loraLayers,
  markTrainable,
  wrapModuleToSave,
  wrapWithLora,
} from "./lora-layers.js";
import { LoraLinear } from "./lora-linear.js";
import { LoraSummary } from "./lora-summary.js";
import { ModulesToSaveWrapper } from "./modules-to-save-wrapper.js";
import { parseAdapterKey } from "./peft-keys.js";
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from "./save-adapter.js";
import { patternValue } from "./target-modules.js";

export interface LoadAdapterOptions {
  /** Leave LoRA weights and modules_to_save trainable (PEFT's is_trainable); default false: all frozen. */
  trainable?: boolean;
  /** Seeds the dropout streams when training continues (default 0). */
  seed?: number;
}

/** Adds the adapter in `dir` to `model`; every tensor's shape is checked before anything changes. */
export function loadAdapter(model: Module, dir: string, options?: LoadAdapterOptions): LoraSummary;
/** The same from a URL, a ModelFolder or files in memory (`{ "adapter_config.json": …, "adapter_model.safetensors": … }`). */
export function loadAdapter(
  model: Module,
  source: AsyncFolderSource,
  options?: LoadAdapterOptions,
): Promise<LoraSummary>;
export function loadAdapter(
  model: Module,
  source: string | AsyncFolderSource,
  options: LoadAdapterOptions = {},
): LoraSummary | Promise<LoraSummary> {
  if (typeof source !== "string") return fetchAdapter(model, source, options);
  const dir = localPath(source, "loadAdapter");
  const { existsSync } = nodeBuiltin("node:fs", `reading the adapter ${dir}`);
  const { join } = nodeBuiltin("node:path", `reading the adapter ${dir}`);
  const configPath = join(dir, ADAPTER_CONFIG_NAME);
  if (!existsSync(configPath))
    throw new FormatError(`no ${ADAPTER_CONFIG_NAME} in the adapter folder`, configPath);
  const config = readLoraConfig(configPath);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_NAME);
  if (!existsSync(weightsPath)) {
    const bin = existsSync(join(dir, "adapter_model.bin"))
      ? " (adapter_model.bin is a pickle: re-save it with safetensors)"
      : "";
    throw new FormatError(`adapter weights not found${bin}`, weightsPath);
  }
  return applyAdapter(model, config, SafetensorsFile.open(weightsPath), options);
}

async function fetchAdapter(
  model: Module,
  source: AsyncFolderSource,
  options: LoadAdapterOptions,
): Promise<LoraSummary> {
  const folder = toModelFolder(source);
  if (!(await folder.has(ADAPTER_CONFIG_NAME)))
    throw new FormatError(
      `no ${ADAPTER_CONFIG_NAME} in the adapter folder`,
      folder.describe(ADAPTER_CONFIG_NAME),
    );
  const config = parseLoraConfig(
    await readFolderJson(folder, ADAPTER_CONFIG_NAME),
    folder.describe(ADAPTER_CONFIG_NAME),
  );
  if (!(await folder.has(ADAPTER_WEIGHTS_NAME)))
    throw new FormatError("adapter weights not found", folder.describe(ADAPTER_WEIGHTS_NAME));
  const file = await SafetensorsFile.fetchHeader(folder, ADAPTER_WEIGHTS_NAME);
  try {
    await file.prefetch(file.keys(), { release: true });
  } catch (e) {
    file.close();
    throw e;
  }
  return applyAdapter(model, config, file, options);
}

/** Checks `file` against the model, then wraps and assigns; closes the file. */
function applyAdapter(
  model: Module,
  config: LoraConfig,
  file: SafetensorsFile,
  options: LoadAdapterOptions,
): LoraSummary {
  try {
    const plan = planLoad(model, config, file);
    // Only now, with every shape known to fit, does the model change.
    const seed = options.seed ?? 0;
    plan.loraModules.forEach((path, i) => {
      const m = model.getSubmodule(path);
      if (m instanceof LoraLinear) m.config = config;
      else wrapWithLora(model, path, config, new Rng(0), layerSeed(seed, i));
    });
    for (const path of plan.saved) wrapModuleToSave(model, path, config);
    for (const [key, target] of plan.assignments) {
      // A modules_to_save parameter of an offloaded model comes into the heap to take the adapter's values.
      model.materialize(target);
      const dot = target.lastIndexOf(".");
      const owner = model.getSubmodule(target.slice(0, dot));
      const t = file.tensor(key);
      owner.variable(target.slice(dot + 1)).assign(t);
      t.dispose();
    }
    markTrainable(model, options.trainable ?? false);
    return new LoraSummary(
      "adapter file",
      plan.loraModules,
      [],
      plan.saved,
      model.numParameters({ trainableOnly: true }),
      model.numParameters(),
    );
  } finally {
    file.close();
  }
}

interface LoadPlan {
  loraModules: string[];
  saved: string[];
  /** adapter-file key → parameter name in the wrapped model. */
  assignments: [string, string][];
}

/** Checks the file against the model without changing it; every problem is reported at once. */
function planLoad(model: Module, config: LoraConfig, file: SafetensorsFile): LoadPlan {
  const lora = new Map<string, Set<string>>();
  const params: [string, string][] = [];
  for (const key of file.keys()) {
    const k = parseAdapterKey(key, file.path);
    if (k.kind === "param") params.push([key, k.name]);
    else lora.set(k.module, (lora.get(k.module) ?? new Set()).add(k.kind));
  }
  const missing: string[] = [];
  const unexpected: string[] = [];
  const mismatched: WeightMismatch[] = [];
  const assignments: [string, string][] = [];
  const loraModules = [...model.namedModules()].map(([n]) => n).filter((n) => lora.has(n));
  for (const path of lora.keys())
    if (!loraModules.includes(path))
      unexpected.push(`base_model.model.${path}.lora_A/B.weight (no module "${path}")`);

  const existing = loraLayers(model).map(([n]) => n);
  const extra = existing.filter((n) => !lora.has(n));
  if (extra.length)
    throw new LlavaError(
      `${file.path}: the model already has LoRA on ${extra.slice(0, 5).join(", ")}, which the adapter lacks`,
    );

  for (const path of loraModules) {
    const m = model.getSubmodule(path);
    const base = m instanceof LoraLinear ? m.base_layer : m;
    if (!(base instanceof Linear))
      throw new FormatError(
        `LoRA weights for "${path}", which is a ${m.constructor.name}, not a Linear`,
        file.path,
      );
    const r = m instanceof LoraLinear ? m.r : patternValue(path, config.rank_pattern, config.r);
    for (const [kind, expected] of [
      ["lora_A", [r, base.inFeatures]],
      ["lora_B", [base.outFeatures, r]],
    ] as const) {
      const key = `base_model.model.${path}.${kind}.weight`;
      if (!lora.get(path)!.has(kind)) {
        missing.push(key);
        continue;
      }
      const found = file.shape(key);
      if (found.join() !== expected.join()) mismatched.push({ key, expected, found });
      assignments.push([key, `${path}.${kind}.default.weight`]);
    }
  }

  const saved =
    params.length || config.modules_to_save?.length ? findModulesToSave(model, config.modules_to_save) : [];
  const fileParams = new Map(params.map(([key, name]) => [name, key]));
  for (const [key, name] of params)
    if (!saved.some((s) => name.startsWith(`${s}.`)))
      unexpected.push(`${key} (not a LoRA weight and not under modules_to_save ${JSON.stringify(saved)})`);
  for (const path of saved) {
    const m = model.getSubmodule(path);
    const own = m instanceof ModulesToSaveWrapper ? m.trained : m;
    for (const [name, p] of own.namedParameters(path)) {
      const key = fileParams.get(name);
      if (key === undefined) {
        missing.push(`base_model.model.${name}`);
        continue;
      }
      const found = file.shape(key);
      if (found.join() !== p.shape.join()) mismatched.push({ key, expected: p.shape, found });
      assignments.push([key, `${path}.modules_to_save.default.${name.slice(path.length + 1)}`]);
    }
  }
  if (missing.length || unexpected.length || mismatched.length)
    throw new WeightLoadError(missing, unexpected, mismatched, file.path);
  return { loraModules, saved, assignments };
}
