// The vocabulary-chunked output projection against the whole-matrix one: logits, the loss and its
// gradient within 1e-6, for chunk sizes that do and do not divide the vocabulary.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend/init-backend.js";
import { Module } from "../modules/module.js";
import type { OffloadedParameter } from "../modules/offloaded-parameter.js";
import { normalInit, Rng } from "../modules/random.js";
import { expectNoLeaks } from "../testing/index.js";
import { crossEntropy } from "./causal-lm-loss.js";
import { linear } from "./linear.js";
import { chunkedCrossEntropy, chunkedLogits, type VocabChunks } from "./vocab-chunked.js";

const N = 7;
const E = 16;
const V = 1000;

/** W's rows in chunks of `rows` (slices of one resident tensor). */
function sliced(w: tf.Tensor, rows: number): VocabChunks & { dispose(): void } {
  const count = Math.ceil(V / rows);
  const parts = Array.from({ length: count }, (_, c) =>
    tf.slice(w, [c * rows, 0], [Math.min(rows, V - c * rows), E]),
  );
  return {
    vocabSize: V,
    count,
    start: (c) => c * rows,
    weight: (c) => parts[c],
    dispose: () => tf.dispose(parts),
  };
}

function maxAbs(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

describe.each(["wasm", "cpu"] as const)("vocabulary-chunked output on %s", (backend) => {
  let h: tf.Tensor;
  let w: tf.Tensor;
  const targets = Int32Array.from([0, 999, 250, 251, 500, 3, 999]);
  beforeAll(async () => {
    await initBackend({ backend });
    h = tf.tensor(normalInit(1, new Rng(1))([N, E]), [N, E]);
    w = tf.tensor(normalInit(0.5, new Rng(2))([V, E]), [V, E]);
  });

  it.each([
    1000, 256, 333, 1,
  ])("logits, loss and dL/dh equal the unchunked ones within 1e-6 (chunks of %i rows)", (rows) => {
    const chunks = sliced(w, rows);
    const full = linear(h, w);
    const parts = chunkedLogits(h, chunks);
    expect(parts.shape).toEqual([N, V]);
    expect(maxAbs(parts, full)).toBeLessThanOrEqual(1e-6);
    const want = tf.valueAndGrad((x: tf.Tensor) => crossEntropy(linear(x, w), targets) as tf.Scalar)(h);
    const got = tf.valueAndGrad((x: tf.Tensor) => chunkedCrossEntropy(x, chunks, targets) as tf.Scalar)(h);
    expect(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0])).toBeLessThanOrEqual(1e-6);
    expect(maxAbs(got.grad, want.grad)).toBeLessThanOrEqual(1e-6);
    tf.dispose([full, parts, want.value, want.grad, got.value, got.grad]);
    chunks.dispose();
  });

  it("scales the gradient by the upstream one, names bad targets, and leaks nothing", async () => {
    const chunks = sliced(w, 300);
    const g1 = tf.grad((x: tf.Tensor) => chunkedCrossEntropy(x, chunks, targets))(h);
    const g3 = tf.grad((x: tf.Tensor) => chunkedCrossEntropy(x, chunks, targets).mul(3))(h);
    expect(maxAbs(g3, g1.mul(3))).toBeLessThanOrEqual(1e-6);
    expect(() => chunkedCrossEntropy(h, chunks, Int32Array.from([0, 1, 2, 3, 4, 5, 1000]))).toThrow(
      /target 1000 is outside \[0, 1000\)/,
    );
    await expectNoLeaks(() =>
      tf.valueAndGrad((x: tf.Tensor) => chunkedCrossEntropy(x, chunks, targets) as tf.Scalar)(h),
    );
    tf.dispose([g1, g3]);
    chunks.dispose();
  });
});

class Table extends Module {
  constructor(w: tf.Tensor) {
    super();
    this.param("weight", w.shape, w.clone());
  }
}

describe("an offloaded matrix's vocabulary chunks", () => {
  it("cover every row once and give the whole matrix's logits and loss", async () => {
    await initBackend({ backend: "wasm" });
    const h = tf.tensor(normalInit(1, new Rng(3))([N, E]), [N, E]);
    const w = tf.tensor(normalInit(0.5, new Rng(4))([V, E]), [V, E]);
    const m = new Table(w).freeze().offload();
    const p = m.parameter("weight") as OffloadedParameter;
    const chunks = p.vocabChunks(100 * E * 4); // 100 rows a chunk
    expect(chunks.count).toBe(10);
    expect(chunks.weight(3)).toBe(chunks.weight(3)); // the same heap tensor while it stays resident
    const full = linear(h, w);
    const parts = chunkedLogits(h, chunks);
    expect(maxAbs(parts, full)).toBe(0);
    const targets = Int32Array.from([5, 105, 999, 0, 500, 501, 77]);
    const want = crossEntropy(full, targets);
    const got = chunkedCrossEntropy(h, chunks, targets);
    expect(Math.abs(got.dataSync()[0] - want.dataSync()[0])).toBeLessThanOrEqual(1e-6);
    tf.dispose([h, w, full, parts, want, got]);
    m.dispose();
  });
});
