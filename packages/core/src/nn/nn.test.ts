// Every primitive against values computed independently in plain JS (closed forms or hand-checked cases).
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend/init-backend.js";
import { expectNoLeaks, expectTensorsClose } from "../testing/index.js";
import { gelu, geluTanh, getActivation, quickGelu, silu } from "./activations.js";
import { scaledDotProductAttention } from "./attention.js";
import { attentionBias, MASK_VALUE } from "./attention-mask.js";
import { causalLmLoss, crossEntropy, labelledPositions } from "./causal-lm-loss.js";
import { embedding } from "./embedding.js";
import { layerNorm } from "./layer-norm.js";
import { linear } from "./linear.js";
import { rmsNorm } from "./rms-norm.js";
import { applyRotary, rotaryCosSin, rotateHalf } from "./rope.js";

const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

// erf by its Maclaurin series, independent of tfjs' approximation (|x| ≤ 3 converges fast).
function erf(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 80; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

describe("linear", () => {
  it("computes x Wᵀ + b with W as [out, in] over leading dims", async () => {
    const x = tf.tensor3d([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const w = tf.tensor2d([1, 0, -1, 2, 1, 0], [2, 3]);
    const b = tf.tensor1d([0.5, -1]);
    const y = linear(x, w, b);
    expect(y.shape).toEqual([1, 2, 2]);
    expect(Array.from(y.dataSync())).toEqual([1 - 3 + 0.5, 2 + 2 - 1, 4 - 6 + 0.5, 8 + 5 - 1]);
    expect(() => linear(tf.zeros([2, 4]), w)).toThrow(/4 features.*expects 3/);
    await expectNoLeaks(() => linear(x, w, b), "linear");
    tf.dispose([x, w, b, y]);
  });
});

describe("embedding", () => {
  it("gathers rows and rejects float ids", () => {
    const table = tf.tensor2d(
      seq(12, (i) => i),
      [4, 3],
    );
    const y = embedding(tf.tensor2d([3, 0], [1, 2], "int32"), table);
    expect(y.shape).toEqual([1, 2, 3]);
    expect(Array.from(y.dataSync())).toEqual([9, 10, 11, 0, 1, 2]);
    expect(() => embedding(tf.tensor1d([1.5]), table)).toThrow(/int32/);
  });
});

describe("norms", () => {
  it("layerNorm uses the biased variance with eps inside the root", async () => {
    const v = [1, 2, 4, 9];
    const mean = 4;
    const variance = v.reduce((a, x) => a + (x - mean) ** 2, 0) / 4;
    const w = [1, 2, 0.5, -1];
    const b = [0, 1, 0, 0.25];
    const expected = v.map((x, i) => ((x - mean) / Math.sqrt(variance + 1e-5)) * w[i] + b[i]);
    const args = [tf.tensor2d(v, [1, 4]), tf.tensor1d(w), tf.tensor1d(b)] as const;
    expectTensorsClose(layerNorm(...args, 1e-5), expected, { atol: 1e-6 });
    await expectNoLeaks(() => layerNorm(...args), "layerNorm");
  });

  it("rmsNorm divides by the root mean square, no centring", async () => {
    const v = [3, -4, 0, 1];
    const rms = Math.sqrt(v.reduce((a, x) => a + x * x, 0) / 4 + 1e-6);
    const w = [1, 2, 3, 4];
    const args = [tf.tensor2d(v, [1, 4]), tf.tensor1d(w)] as const;
    expectTensorsClose(
      rmsNorm(...args, 1e-6),
      v.map((x, i) => (x / rms) * w[i]),
      { atol: 1e-6 },
    );
    await expectNoLeaks(() => rmsNorm(...args), "rmsNorm");
  });

  it("rmsNorm's fused gradient equals autodiff through the composed ops", async () => {
    const x = tf.tensor3d(
      Array.from({ length: 2 * 3 * 8 }, (_, i) => Math.sin(i * 0.7) * 2),
      [2, 3, 8],
    );
    const w = tf.tensor1d(Array.from({ length: 8 }, (_, i) => 0.5 + i * 0.1));
    const up = tf.tensor3d(
      Array.from({ length: 48 }, (_, i) => Math.cos(i * 1.1)),
      [2, 3, 8],
    );
    const composed = (a: tf.Tensor, b: tf.Tensor) =>
      a.mul(a.square().mean(-1, true).add(1e-6).rsqrt()).mul(b).mul(up).sum();
    const fused = (a: tf.Tensor, b: tf.Tensor) => rmsNorm(a, b, 1e-6).mul(up).sum();
    const [gx, gw] = tf.grads(composed)([x, w]);
    const [fx, fw] = tf.grads(fused)([x, w]);
    expectTensorsClose(fx, gx.dataSync(), { atol: 1e-5 });
    expectTensorsClose(fw, gw.dataSync(), { atol: 1e-5 });
    await expectNoLeaks(() => tf.grads(fused)([x, w]), "rmsNorm grads");
    tf.dispose([x, w, up, gx, gw, fx, fw]);
  });
});

describe("activations", () => {
  const xs = [-3, -1.5, -0.2, 0, 0.3, 1, 2.5];
  const x = tf.tensor1d(xs);
  const sig = (z: number) => 1 / (1 + Math.exp(-z));

  it("quick_gelu, exact gelu, tanh gelu and silu match their closed forms", async () => {
    expectTensorsClose(
      quickGelu(x),
      xs.map((v) => v * sig(1.702 * v)),
      { atol: 1e-6 },
    );
    expectTensorsClose(
      gelu(x),
      xs.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
      { atol: 1e-6 },
    );
    const tanhGelu = (v: number) =>
      0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    expectTensorsClose(geluTanh(x), xs.map(tanhGelu), { atol: 1e-6 });
    expectTensorsClose(
      silu(x),
      xs.map((v) => v * sig(v)),
      { atol: 1e-6 },
    );
    for (const f of [quickGelu, gelu, geluTanh, silu]) await expectNoLeaks(() => f(x), f.name);
  });

  it("maps HF names and rejects unknown ones", () => {
    expect(getActivation("quick_gelu")).toBe(quickGelu);
    expect(getActivation("silu")).toBe(silu);
    expect(() => getActivation("gelu_fast_v9")).toThrow(/unknown activation "gelu_fast_v9"/);
  });
});

describe("rotary embeddings", () => {
  it("rotates each (i, i + D/2) pair by pos · θ^(-2i/D)", async () => {
    const D = 4;
    const theta = 10000;
    const positions = [0, 1, 5];
    const { cos, sin } = rotaryCosSin(positions, [1, 3], D, theta);
    const xs = seq(12, (i) => i + 1); // [1, 1, 3, 4]
    const x = tf.tensor4d(xs, [1, 1, 3, D]);
    const y = applyRotary(x, cos, sin);
    const expected: number[] = [];
    for (let t = 0; t < 3; t++) {
      const row = xs.slice(t * D, t * D + D);
      const out = new Array(D);
      for (let i = 0; i < D / 2; i++) {
        const a = positions[t] * theta ** (-(2 * i) / D);
        out[i] = row[i] * Math.cos(a) - row[i + D / 2] * Math.sin(a);
        out[i + D / 2] = row[i + D / 2] * Math.cos(a) + row[i] * Math.sin(a);
      }
      expected.push(...out);
    }
    expectTensorsClose(y, expected, { atol: 1e-5 });
    expect(Array.from(rotateHalf(tf.tensor1d([1, 2, 3, 4])).dataSync())).toEqual([-3, -4, 1, 2]);
    await expectNoLeaks(() => applyRotary(x, cos, sin), "applyRotary");
  });

  it("keeps relative positions: q·k depends only on the offset", () => {
    const D = 8;
    const q = tf.tensor4d(
      seq(D, (i) => Math.cos(i)),
      [1, 1, 1, D],
    );
    const k = tf.tensor4d(
      seq(D, (i) => Math.sin(i + 1)),
      [1, 1, 1, D],
    );
    const dot = (pq: number, pk: number) => {
      const a = rotaryCosSin([pq], [1, 1], D, 1e6);
      const b = rotaryCosSin([pk], [1, 1], D, 1e6);
      return applyRotary(q, a.cos, a.sin)
        .mul(applyRotary(k, b.cos, b.sin))
        .sum()
        .dataSync()[0];
    };
    expect(dot(7, 3)).toBeCloseTo(dot(104, 100), 4);
  });
});

describe("attention", () => {
  it("builds causal + padding biases with HF's float32 minimum", () => {
    const bias = attentionBias({ batch: 1, queryLength: 2, pastLength: 1, attentionMask: [0, 1, 1] });
    expect(bias.shape).toEqual([1, 1, 2, 3]);
    const M = MASK_VALUE;
    expect(Array.from(bias.dataSync())).toEqual([M, 0, M, M, 0, 0].map(Math.fround));
    const bidir = attentionBias({ batch: 1, queryLength: 2, causal: false });
    expect(Array.from(bidir.dataSync())).toEqual([0, 0, 0, 0]);
  });

  it("matches a hand-written GQA attention (query head h reads kv head h / R)", async () => {
    const [B, H, K, T, D] = [1, 4, 2, 3, 2];
    const qv = seq(B * H * T * D, (i) => Math.sin(i * 0.7));
    const kv = seq(B * K * T * D, (i) => Math.cos(i * 0.3));
    const vv = seq(B * K * T * D, (i) => i * 0.1 - 0.5);
    const q = tf.tensor4d(qv, [B, H, T, D]);
    const k = tf.tensor4d(kv, [B, K, T, D]);
    const v = tf.tensor4d(vv, [B, K, T, D]);
    const bias = attentionBias({ batch: B, queryLength: T });
    const out = scaledDotProductAttention(q, k, v, bias);
    const expected: number[] = [];
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / K));
      for (let t = 0; t < T; t++) {
        const scores = seq(t + 1, (s) => {
          let d = 0;
          for (let j = 0; j < D; j++) d += qv[(h * T + t) * D + j] * kv[(g * T + s) * D + j];
          return d / Math.sqrt(D);
        });
        const m = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < D; j++)
          expected.push(e.reduce((a, p, s) => a + (p / z) * vv[(g * T + s) * D + j], 0));
      }
    }
    expectTensorsClose(out, expected, { atol: 1e-6 });
    expect(() => scaledDotProductAttention(tf.zeros([1, 3, 3, 2]), k, v)).toThrow(/not a multiple/);
    await expectNoLeaks(() => scaledDotProductAttention(q, k, v, bias), "attention");
  });

  it("a fully masked query row attends uniformly, as transformers does on CPU", () => {
    const q = tf.ones([1, 1, 2, 2]);
    const k = tf.tensor4d([1, 0, 0, 5], [1, 1, 2, 2]);
    const v = tf.tensor4d([2, 0, 4, 8], [1, 1, 2, 2]);
    const bias = attentionBias({ batch: 1, queryLength: 2, attentionMask: [0, 1] });
    const out = scaledDotProductAttention(q, k, v, bias).dataSync();
    expect(Array.from(out.slice(0, 2))).toEqual([3, 4]); // mean of the two value rows
    expect(Array.from(out.slice(2))).toEqual([4, 8]); // only key 1 is visible
  });
});

describe("causal LM loss", () => {
  it("shifts labels, ignores -100 and averages over the rest", async () => {
    const V = 3;
    const logitsV = [0.1, 0.2, 0.3, 1, 0, -1, 2, 2, 0, 0.5, -0.5, 0]; // [1, 4, 3]
    const labels = [-100, 2, -100, 1]; // position 0 predicts 2, position 2 predicts 1
    const logp = (row: number, y: number) => {
      const r = logitsV.slice(row * V, row * V + V);
      const m = Math.max(...r);
      return r[y] - m - Math.log(r.reduce((a, x) => a + Math.exp(x - m), 0));
    };
    const expected = -(logp(0, 2) + logp(2, 1)) / 2;
    const logits = tf.tensor3d(logitsV, [1, 4, 3]);
    expect(causalLmLoss(logits, labels).dataSync()[0]).toBeCloseTo(expected, 6);
    const { rows, targets } = labelledPositions(labels, 1, 4);
    expect(Array.from(rows)).toEqual([0, 2]);
    expect(Array.from(targets)).toEqual([2, 1]);
    const sub = tf.gather(logits.reshape([4, 3]), tf.tensor1d(rows, "int32"));
    expect(crossEntropy(sub, targets).dataSync()[0]).toBeCloseTo(expected, 6);
    await expectNoLeaks(() => causalLmLoss(logits, labels), "causalLmLoss");
  });

  it("has the gradient of the mean NLL, (softmax − onehot)·dy/N, scaled through the graph", async () => {
    const N = 3;
    const V = 5;
    const x = tf.tensor2d(
      Array.from({ length: N * V }, (_, i) => Math.sin(i * 1.3) * 3),
      [N, V],
    );
    const targets = Int32Array.from([4, 0, 2]);
    const g = tf.grad((z: tf.Tensor) => crossEntropy(z, targets).mul(2.5))(x);
    const z = x.arraySync() as number[][];
    const want = z.flatMap((row, r) => {
      const m = Math.max(...row);
      const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
      return row.map((v, j) => ((Math.exp(v - m) / s - (j === targets[r] ? 1 : 0)) * 2.5) / N);
    });
    Array.from(g.dataSync()).forEach((v, i) => {
      expect(v).toBeCloseTo(want[i], 6);
    });
    expect(crossEntropy(tf.zeros([0, V]), new Int32Array(0)).dataSync()[0]).toBeNaN();
    expect(() => crossEntropy(x, Int32Array.from([0, 5, 1]))).toThrow(/outside \[0, 5\)/);
    await expectNoLeaks(() => tf.grad((t: tf.Tensor) => crossEntropy(t, targets))(x), "crossEntropy grad");
    tf.dispose([x, g]);
  });
});
