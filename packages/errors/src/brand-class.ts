// instanceof across copies of a package. npm installs a second copy of a package when two dependents ask
// for ranges that do not overlap (@llava-ts/qwen wanting core ^0.1, @llava-ts/lora core ^0.2), and each
// copy has its own class objects, so `layer instanceof Linear` would be false for a Linear the other copy
// made. tfjs meets the same problem for its Tensor with Symbol.hasInstance; so do we, with a brand.

/**
 * Makes `x instanceof cls` true for instances made by any copy of the package that defines `cls`: its
 * prototype carries a global symbol named by `brand`, and `cls[Symbol.hasInstance]` looks for it. The
 * brand names the class and its contract ("@llava-ts/core:Linear"); give it a new name when the fields or
 * methods that other packages use change incompatibly. Subclasses keep the ordinary instanceof unless they
 * are branded themselves.
 */
export function brandClass(cls: { readonly prototype: object }, brand: string): void {
  const key = Symbol.for(`@llava-ts/brand ${brand}`);
  Object.defineProperty(cls.prototype, key, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, x: unknown): boolean {
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, x);
      if (typeof x !== "object" || x === null) return false;
      // The prototype chain, as instanceof walks it (a Proxy's get trap is not asked).
      for (let p = Object.getPrototypeOf(x); p !== null; p = Object.getPrototypeOf(p))
        if (Object.hasOwn(p, key)) return true;
      return false;
    },
  });
}
