import { initBackend, Linear, normalInit, Rng } from "@llava-ts/core";
import { expectNoLeaks, expectTensorsClose } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { LoraLinear } from "./lora-linear.js";

beforeAll(async () => {
  await initBackend();
});

function layer(opts: { dropout?: number; bias?: boolean } = {}) {
  const rng = new Rng(7);
  const base = new Linear(6, 5, { init: normalInit(0.5, rng), bias: opts.bias ?? true });
  const lora = new LoraLinear(base, {
    r: 3,
    alpha: 6,
    scaling: 2,
    dropout: opts.dropout,
    rng,
    dropoutSeed: 1,
  });
  // Non-zero B so the LoRA branch shows (PEFT starts it at zero).
  lora.weightB.assign(tf.tensor(normalInit(0.5, rng)([5, 3]), [5, 3]));
  return lora;
}

describe("LoraLinear", () => {
  it("starts as a no-op: B is zero, A is kaiming-uniform within ±1/√in", async () => {
    const base = new Linear(50, 4);
    const l = new LoraLinear(base, { r: 8, alpha: 16, scaling: 2, rng: new Rng(0) });
    expect(l.weightA.shape).toEqual([8, 50]);
    expect(l.weightB.shape).toEqual([4, 8]);
    expect(Math.max(...(await l.weightB.data()))).toBe(0);
    const a = await l.weightA.data();
    const bound = 1 / Math.sqrt(50);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect([...l.namedParameters()].map(([n]) => n)).toEqual([
      "base_layer.weight",
      "base_layer.bias",
      "lora_A.default.weight",
      "lora_B.default.weight",
    ]);
  });

  it("forward = x Wᵀ + b + (x Aᵀ Bᵀ) · scaling", () => {
    const l = layer();
    const x = tf.tensor(normalInit(1, new Rng(3))([2, 4, 6]), [2, 4, 6]);
    const want = tf.tidy(() =>
      x
        .matMul(l.weight.expandDims(0).tile([2, 1, 1]), false, true)
        .add(l.bias!)
        .add(
          x
            .reshape([8, 6])
            .matMul(l.weightA, false, true)
            .matMul(l.weightB, false, true)
            .mul(2)
            .reshape([2, 4, 5]),
        ),
    );
    expectTensorsClose(l.forward(x), want, { atol: 1e-6 });
  });

  it("merge adds B A · scaling to W (same output, no LoRA branch); unmerge takes it back", async () => {
    const l = layer();
    const x = tf.tensor(normalInit(1, new Rng(3))([4, 6]), [4, 6]);
    const w0 = l.weight.clone();
    const y = l.forward(x);
    l.merge();
    expectTensorsClose(l.weight, w0.add(tf.matMul(l.weightB, l.weightA).mul(2)), { atol: 0 });
    expectTensorsClose(l.forward(x), y, { atol: 1e-6 });
    expect(() => l.merge()).toThrow(/already merged/);
    l.unmerge();
    expectTensorsClose(l.weight, w0, { atol: 1e-6 });
    const fused = l.fuse();
    expect(fused).toBeInstanceOf(Linear);
    expectTensorsClose(fused.forward(x), y, { atol: 1e-6 });
  });

  it("dropout: only while training, seeded, inverted scaling", () => {
    const x = tf.ones([64, 6]);
    const a = layer({ dropout: 0.5 });
    const b = layer({ dropout: 0.5 });
    const noDrop = layer();
    expectTensorsClose(a.forward(x), noDrop.forward(x), { atol: 0 }); // eval: no dropout
    a.training = true;
    b.training = true;
    const ya = a.forward(x);
    expectTensorsClose(ya, b.forward(x), { atol: 0 }); // same seed, same masks
    expect(
      tf
        .abs(ya.sub(noDrop.forward(x)))
        .max()
        .dataSync()[0],
    ).toBeGreaterThan(1e-3);
    expect(
      tf
        .abs(ya.sub(a.forward(x)))
        .max()
        .dataSync()[0],
    ).toBeGreaterThan(1e-3); // the stream moves on
  });

  it("gradients reach A and B (and the input)", () => {
    const l = layer();
    const x = tf.tensor(normalInit(1, new Rng(3))([4, 6]), [4, 6]);
    const { grads } = tf.variableGrads(
      () => l.forward(x).square().sum() as tf.Scalar,
      [l.weightA, l.weightB],
    );
    for (const g of Object.values(grads)) expect(tf.abs(g).max().dataSync()[0]).toBeGreaterThan(0);
  });

  it("does not leak tensors (forward, merge, unmerge, training dropout)", async () => {
    const l = layer({ dropout: 0.1 });
    const x = tf.ones([3, 6]);
    await expectNoLeaks(() => l.forward(x), "forward");
    l.training = true;
    await expectNoLeaks(() => l.forward(x), "forward with dropout");
    await expectNoLeaks(() => {
      l.merge();
      l.unmerge();
    }, "merge/unmerge");
  });
});
