// HF Trainer's parameter grouping: weight decay for weights, none for biases and normalisation weights
// (get_decay_parameter_names excludes LayerNorm-type modules and every name containing "bias").
import { LayerNorm, type Module, matchName, type NamePattern, RMSNorm } from "@llava-ts/core";

/** Whether `module` is a normalisation layer: core's LayerNorm / RMSNorm, or a model's own `…Norm` class. */
export function isNormModule(module: Module): boolean {
  return module instanceof LayerNorm || module instanceof RMSNorm || /Norm$/.test(module.constructor.name);
}

/**
 * Names of the parameters that get no weight decay: HF's default (biases and norm weights), or the
 * parameters matching `pattern` when one is given. `"none"` decays everything.
 */
export function noDecayParameterNames(model: Module, pattern?: NamePattern | "none"): Set<string> {
  const out = new Set<string>();
  if (pattern === "none") return out;
  for (const [path, module] of model.namedModules()) {
    const norm = isNormModule(module);
    for (const [name] of module.ownParameters()) {
      const full = path ? `${path}.${name}` : name;
      const skip = pattern !== undefined ? matchName(pattern, full) : norm || full.includes("bias");
      if (skip) out.add(full);
    }
  }
  return out;
}
