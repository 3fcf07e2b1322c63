// Finding and creating the LoRA pieces of a model; shared by applyLora and loadAdapter.
import { ConfigError, Linear, LlavaError, type Module, Rng } from "@llava-ts/core";
import { type LoraConfig, loraScaling } from "./lora-config.js";
import { LoraLinear } from "./lora-linear.js";
import { ModulesToSaveWrapper } from "./modules-to-save-wrapper.js";
import { matchesSuffix, patternValue } from "./target-modules.js";

/** Every LoraLinear in the model, by module path. */
export function loraLayers(model: Module): [string, LoraLinear][] {
  return [...model.namedModules()].filter((e): e is [string, LoraLinear] => e[1] instanceof LoraLinear);
}

/** Every ModulesToSaveWrapper in the model, by module path. */
export function modulesToSaveWrappers(model: Module): [string, ModulesToSaveWrapper][] {
  return [...model.namedModules()].filter(
    (e): e is [string, ModulesToSaveWrapper] => e[1] instanceof ModulesToSaveWrapper,
  );
}

/** Paths of the modules `modules_to_save` selects (outermost only: a match inside a match is covered). */
export function findModulesToSave(model: Module, names: readonly string[] | null): string[] {
  if (!names?.length) return [];
  const found: string[] = [];
  for (const [path] of model.namedModules()) {
    if (path === "" || !matchesSuffix(path, names)) continue;
    if (found.some((f) => path.startsWith(`${f}.`))) continue;
    found.push(path);
  }
  const missing = names.filter((n) => !found.some((f) => matchesSuffix(f, [n])));
  if (missing.length)
    throw new ConfigError(
      `modules_to_save: no module named ${missing.map((m) => JSON.stringify(m)).join(", ")} ` +
        `(top-level modules: ${model
          .children()
          .map(([n]) => n)
          .join(", ")})`,
      "modules_to_save",
    );
  return found;
}

/** Replaces the Linear at `path` with a LoraLinear; rank and alpha follow rank_pattern / alpha_pattern. */
export function wrapWithLora(
  model: Module,
  path: string,
  config: LoraConfig,
  rng: Rng,
  dropoutSeed: number,
): LoraLinear {
  const target = model.getSubmodule(path);
  if (target instanceof LoraLinear) throw new LlavaError(`${path} already has a LoRA adapter`);
  if (!(target instanceof Linear))
    throw new ConfigError(
      `target_modules selects "${path}", a ${target.constructor.name}; only Linear layers can take LoRA`,
      "target_modules",
    );
  const r = patternValue(path, config.rank_pattern, config.r);
  const alpha = patternValue(path, config.alpha_pattern, config.lora_alpha);
  const layer = new LoraLinear(target, {
    r,
    alpha,
    scaling: loraScaling(config, r, alpha),
    dropout: config.lora_dropout,
    init: config.init_lora_weights,
    rng,
    dropoutSeed,
    config,
  });
  model.setSubmodule(path, layer);
  return layer;
}

/** Replaces the module at `path` with a ModulesToSaveWrapper of the adapter `config` (idempotent). */
export function wrapModuleToSave(model: Module, path: string, config: LoraConfig): ModulesToSaveWrapper {
  const target = model.getSubmodule(path);
  if (target instanceof ModulesToSaveWrapper) {
    target.config = config;
    return target;
  }
  const wrapper = ModulesToSaveWrapper.wrap(target, config);
  model.setSubmodule(path, wrapper);
  return wrapper;
}

/** Only LoRA weights and the modules_to_save copies train; everything else (base biases too) is frozen. */
export function markTrainable(model: Module, trainable: boolean): void {
  model.freeze();
  if (!trainable) return;
  for (const [, layer] of loraLayers(model)) {
    layer.weightA.trainable = true;
    layer.weightB.trainable = true;
  }
  for (const [, w] of modulesToSaveWrappers(model)) w.trained.unfreeze();
}

/** A per-layer dropout seed derived from the run's seed, so layers draw independent masks. */
export function layerSeed(seed: number, index: number): number {
  return new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0).int(2 ** 31);
}

/**
 * The config of the model's adapter, as applyLora or loadAdapter gave it to the adapter's layers
 * (PEFT's peft_config); undefined without an adapter.
 */
export function loraConfigOf(model: Module): LoraConfig | undefined {
  for (const [, m] of model.namedModules())
    if ((m instanceof LoraLinear || m instanceof ModulesToSaveWrapper) && m.config) return m.config;
  return undefined;
}
