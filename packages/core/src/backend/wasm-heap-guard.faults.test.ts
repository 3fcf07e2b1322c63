// Fault suite (issue 19, classes 1 and 8): an allocation the wasm heap cannot hold is an OutOfMemoryError
// naming the size, thrown before anything is written — not a wrap-around, a write over the heap's start,
// then "memory access out of bounds" or a hang.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { OutOfMemoryError } from "../errors.js";
import { WASM_HEAP_LIMIT } from "../modules/heap-cache.js";
import { initBackend } from "./init-backend.js";
import { wasmHeapBytes } from "./wasm-heap-guard.js";

const HEAVY = process.env.LLAVA_HEAVY_TESTS === "1";

describe("the wasm heap guard", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("refuses a tensor of 4 GB or more (its size would wrap around in wasm32) and the engine carries on", () => {
    tf.tidy(() => tf.add(tf.ones([8]), 1)); // tfjs' lazy malloc stub has been replaced by the raw export
    const before = tf.memory().numTensors;
    let err: unknown;
    try {
      tf.fill([2 ** 30 + 1], 0.5); // 4 GiB + 4 bytes of float32
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).requested).toBe(WASM_HEAP_LIMIT + 4);
    expect((err as Error).message).toMatch(
      /out of wasm memory: a tensor of 4\.00 GiB does not fit .* ends at 4\.00 GiB/,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(tf.tidy(() => tf.mul(tf.ones([3]), 2)).dataSync())).toEqual([2, 2, 2]);
    expect(wasmHeapBytes()).toBeLessThan(WASM_HEAP_LIMIT);
  });

  it.runIf(HEAVY)(
    "a heap that cannot grow any more gives the same error (LLAVA_HEAVY_TESTS=1: ~4 GB)",
    () => {
      const held: tf.Tensor[] = [];
      let err: unknown;
      try {
        for (let i = 0; i < 8; i++) held.push(tf.fill([256 * 2 ** 20], i)); // 1 GiB each
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OutOfMemoryError);
      expect(held.length).toBeGreaterThanOrEqual(2);
      // What was allocated before the failure is intact.
      for (const [i, t] of held.entries()) expect(t.dataSync()[12345]).toBe(i);
      tf.dispose(held);
    },
  );
});
