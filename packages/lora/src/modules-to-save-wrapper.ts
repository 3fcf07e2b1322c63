// PEFT's ModulesToSaveWrapper (peft/utils/other.py): a module trained in full next to the adapters.
// The trained module sits under `modules_to_save.default` and is what forward uses; a frozen copy of its
// starting weights sits under `original_module`, as in PEFT, so parameter names match PEFT's state dict.
import { LlavaError, Module, OffloadedParameter, type Parameter } from "@llava-ts/core";
import { brandClass } from "@llava-ts/core/internal";
import type { LoraConfig } from "./lora-config.js";
import { ModuleDict } from "./module-dict.js";

/**
 * Frozen copies of a module's parameters under the same names (no forward: it only holds weights). An
 * offloaded parameter is copied as another view of the same stored values: no heap, no host memory.
 */
export class ParameterCopy extends Module {
  constructor(source: Module) {
    super();
    for (const [name, p] of source.ownParameters()) {
      if (p instanceof OffloadedParameter) this.param(name, p.shape, p.copy());
      else this.param(name, p.shape, p.clone()).trainable = false;
    }
    for (const [name, child] of source.children()) this.module(name, new ParameterCopy(child));
  }
}

export class ModulesToSaveWrapper extends Module {
  static {
    brandClass(ModulesToSaveWrapper, "@llava-ts/lora:ModulesToSaveWrapper");
  }
  readonly original_module: ParameterCopy;
  readonly modules_to_save: ModuleDict<Module>;
  /** The config of the adapter whose modules_to_save this is (saveAdapter writes it). */
  config?: LoraConfig;

  private constructor(module: Module) {
    super();
    this.original_module = this.module("original_module", new ParameterCopy(module));
    this.modules_to_save = this.module("modules_to_save", new ModuleDict({ default: module }));
  }

  /**
   * Wraps `module`, which stays the one forward runs. The result is a proxy that hands property reads the
   * wrapper lacks to the trained module, since models may read more than forward from a child.
   */
  static wrap(module: Module, config?: LoraConfig): ModulesToSaveWrapper {
    const wrapper = new ModulesToSaveWrapper(module);
    wrapper.config = config;
    return new Proxy(wrapper, {
      get: (target, prop, receiver) =>
        prop in target ? Reflect.get(target, prop, receiver) : Reflect.get(target.trained, prop),
    });
  }

  /** The trained module (modules_to_save.default). */
  get trained(): Module {
    return this.modules_to_save.get("default");
  }

  forward(...args: unknown[]): unknown {
    const m = this.trained as Module & { forward?: (...a: unknown[]) => unknown };
    if (typeof m.forward !== "function")
      throw new LlavaError(`ModulesToSaveWrapper: ${m.constructor.name} has no forward()`);
    return m.forward(...args);
  }

  /** The trained module, ready to put back in the wrapper's place; the frozen copy is freed. */
  unwrap(): Module {
    this.original_module.dispose();
    return this.trained;
  }
}

/** Parameters the wrapper saves: the trained module's, named relative to it (as PEFT's adapter file). */
export function trainedParameters(wrapper: ModulesToSaveWrapper): [string, Parameter][] {
  return [...wrapper.trained.namedParameters()];
}
