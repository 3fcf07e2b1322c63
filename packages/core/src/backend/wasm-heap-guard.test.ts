import { describe, expect, it } from "vitest";
import { OutOfMemoryError } from "../errors.js";
import { guardWasmHeap, type HeapUse, noteWasmOutput, takeXnnFailure } from "./wasm-heap-guard.js";

/** A module whose malloc hands out addresses from `base` up, as wasm32 returns them: an i32. */
function fakeModule(base: number) {
  let next = base;
  const freed: number[] = [];
  const module = {
    _malloc: (bytes: number) => {
      const ptr = next;
      next += bytes;
      return ptr | 0; // from 2 GiB up, a negative number
    },
    _free: (ptr: number) => {
      freed.push(ptr);
    },
    HEAPU8: new Uint8Array(8),
    llavaHeapGuard: undefined as HeapUse | undefined,
  };
  guardWasmHeap(module);
  return { module, freed };
}

describe("guardWasmHeap", () => {
  it("counts live bytes from malloc to free", () => {
    const { module } = fakeModule(1024);
    const a = module._malloc(100);
    const b = module._malloc(50);
    expect(module.llavaHeapGuard).toEqual({ live: 150, peak: 150 });
    module._free(a);
    module._free(b);
    expect(module.llavaHeapGuard).toEqual({ live: 0, peak: 150 });
  });

  it("frees what lies above 2 GiB, where malloc's i32 is negative and tfjs frees its unsigned value", () => {
    const { module, freed } = fakeModule(2 ** 31 + 4096);
    const ptr = module._malloc(1 << 20);
    expect(ptr).toBeLessThan(0);
    module._free(ptr >>> 0); // as tfjs-backend-wasm's disposeData does with its memoryOffset
    expect(module.llavaHeapGuard?.live).toBe(0);
    expect(freed).toEqual([2 ** 31 + 4096]);
  });
});

describe("an XNNPACK operator that could not be created", () => {
  it("is remembered from the module's output, not printed, and the next allocation refuses to go on", () => {
    const { module } = fakeModule(1024);
    expect(noteWasmOutput("some other line")).toBe(false);
    expect(
      noteWasmOutput(
        "XNN status for xnn_create_fully_connected_nc_f32 is not successful. Got status 6. Use -c dbg to see XNN logs.",
      ),
    ).toBe(true);
    let err: unknown;
    try {
      module._malloc(64);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as Error).message).toMatch(
      /^out of wasm memory: XNNPACK could not create xnn_create_fully_connected_nc_f32 for an operation \(status 6, out of memory\)/,
    );
    expect(module.llavaHeapGuard?.live).toBe(0);
    expect(module._malloc(64)).toBe(1024); // reported once; the engine carries on
    expect(takeXnnFailure()).toBeUndefined();
  });
});
