// State that must exist once per process, not once per copy of @llava-ts/core: npm installs two copies when
// two packages ask for core ranges that do not overlap, and both drive the one tfjs engine (which keeps
// its engine and registries on globalThis for the same reason). A second copy must find wasm already set
// up, not register the backend again (that would dispose every tensor on it).

/** The object stored on globalThis under `@llava-ts/core:<name>`, made by `make` the first time. */
export function processWide<T extends object>(name: string, make: () => T): T {
  const slots = globalThis as unknown as Record<symbol, T | undefined>;
  const key = Symbol.for(`@llava-ts/core:${name}`);
  slots[key] ??= make();
  return slots[key];
}
