// The wasm kernels we replace for speed (BatchMatMul, Transpose, Identity) against naive JS references,
// over the cases they route differently: transposes, batches, broadcasting, the (W·xᵀ)ᵀ swap, the cache.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./init-backend.js";
import { markStreamed } from "./wasm-matmul.js";
import { simplifyPermutation, transposeArray } from "./wasm-transpose.js";

function seeded(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 2);
}

/** Row-major matmul of batched [.., M, K]·[.., K, N] with broadcasting of a batch of 1. */
function naiveMatMul(
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  ta: boolean,
  tb: boolean,
): Float32Array {
  const [ra, rb] = [aShape.length, bShape.length];
  const M = ta ? aShape[ra - 1] : aShape[ra - 2];
  const K = ta ? aShape[ra - 2] : aShape[ra - 1];
  const N = tb ? bShape[rb - 2] : bShape[rb - 1];
  const batchA = aShape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = bShape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batch = Math.max(batchA, batchB);
  const out = new Float32Array(batch * M * N);
  for (let i = 0; i < batch; i++) {
    const oa = (batchA === 1 ? 0 : i) * M * K;
    const ob = (batchB === 1 ? 0 : i) * K * N;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++)
          s += a[oa + (ta ? k * M + m : m * K + k)] * b[ob + (tb ? n * K + k : k * N + n)];
        out[i * M * N + m * N + n] = s;
      }
  }
  return out;
}

function naiveTranspose(x: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(x.length);
  const idx = new Array(shape.length).fill(0);
  for (let o = 0; o < x.length; o++) {
    let from = 0;
    for (let d = 0; d < perm.length; d++) from += idx[d] * strides[perm[d]];
    out[o] = x[from];
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

describe("wasm BatchMatMul / Transpose / Identity replacements", () => {
  beforeAll(async () => {
    expect(await initBackend({ backend: "wasm" })).toBe("wasm");
  });

  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [7, 3], true, false],
    [[7, 5], [3, 7], true, true],
    [[2, 3, 5, 4], [2, 3, 4, 6], false, false], // attention-like batches
    [[2, 3, 5, 4], [2, 3, 6, 4], false, true], // q·kᵀ
    [[2, 3, 4, 5], [2, 3, 4, 6], true, false],
    [[3, 5, 4], [4, 6], false, false], // broadcast b
    [[3, 5, 4], [6, 4], false, true], // x·Wᵀ on 3D x
    [[5, 4], [3, 4, 6], false, false], // broadcast a
    [[2, 8], [600, 8], false, true], // few rows, wide W: the (W·xᵀ)ᵀ route
    [[1, 64], [300, 64], false, true], // one row (decoding)
  ];
  for (const [as, bs, ta, tb] of cases)
    it(`[${as}]${ta ? "ᵀ" : ""} · [${bs}]${tb ? "ᵀ" : ""}`, () => {
      const av = seeded(
        as.reduce((x, y) => x * y, 1),
        1,
      );
      const bv = seeded(
        bs.reduce((x, y) => x * y, 1),
        2,
      );
      const before = tf.memory().numTensors;
      const a = tf.tensor(av, as);
      const b = tf.tensor(bv, bs);
      const y = tf.matMul(a, b, ta, tb);
      const want = naiveMatMul(av, as, bv, bs, ta, tb);
      const got = y.dataSync();
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
      tf.dispose([a, b, y]);
      expect(tf.memory().numTensors).toBe(before);
    });

  // K ≥ 16384: summed over K blocks, packing the narrower side (M < N: the transposed product).
  for (const [M, K, N] of [
    [24, 20000, 40],
    [40, 20000, 24],
    [17, 16384, 17],
  ])
    it(`long K: [${M}, ${K}]·[${K}, ${N}] in blocks equals the plain sum`, () => {
      const av = seeded(M * K, 11);
      const bv = seeded(K * N, 12);
      const a = tf.tensor(av, [M, K]);
      const b = tf.tensor(bv, [K, N]);
      const before = tf.memory().numTensors;
      const y = tf.matMul(a, b);
      expect(y.shape).toEqual([M, N]);
      const want = naiveMatMul(av, [M, K], bv, [K, N], false, false);
      const got = y.dataSync();
      // Sums of 20000 products of magnitude ≤ 4, rounded in float32 in a different order.
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(2e-3);
      y.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([a, b]);
    });

  it("a streamed weight of more than 4 Mi values as a right operand is multiplied in column blocks, with the same result", () => {
    // dX = dY·W of an MLP weight in the backward pass: [M, K]·[K, N], W streamed (offloaded).
    const [M, K, N] = [6, 256, 16500]; // 4.2 Mi values: 2 blocks of 8256 columns
    const av = seeded(M * K, 21);
    const bv = seeded(K * N, 22);
    const a = tf.tensor(av, [M, K]);
    const plainB = tf.tensor(bv, [K, N]);
    const streamedB = tf.tensor(bv, [K, N]);
    markStreamed(streamedB.dataId);
    const before = tf.memory().numTensors;
    const want = tf.matMul(a, plainB);
    const got = tf.matMul(a, streamedB);
    expect(got.shape).toEqual([M, N]);
    // Blocks of columns do not change any output's sum over K: equal bit for bit.
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    const naive = naiveMatMul(av, [M, K], bv, [K, N], false, false);
    const g = got.dataSync();
    for (let i = 0; i < naive.length; i += 97) expect(g[i]).toBeCloseTo(naive[i], 3);
    tf.dispose([want, got]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, plainB, streamedB]);
  });

  it("caches the transpose of a large weight only while its data lives", () => {
    const W = tf.variable(tf.tensor(seeded(600 * 512, 3), [600, 512])); // ≥ 2^18 values: cached
    const x = tf.tensor(seeded(700 * 512, 4), [700, 512]); // many rows: W is transposed (and cached)
    const want = naiveMatMul(
      x.dataSync() as Float32Array,
      [700, 512],
      W.dataSync() as Float32Array,
      [600, 512],
      false,
      true,
    );
    for (let rep = 0; rep < 2; rep++) {
      const y = tf.matMul(x, W, false, true);
      const got = y.dataSync();
      for (let i = 0; i < want.length; i += 997)
        expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5 * (1 + Math.abs(want[i])));
      y.dispose();
    }
    // New values under the same variable: the cached transpose of the old data must not be used.
    W.assign(tf.tensor(seeded(600 * 512, 5), [600, 512]));
    const want2 = naiveMatMul(
      x.dataSync() as Float32Array,
      [700, 512],
      W.dataSync() as Float32Array,
      [600, 512],
      false,
      true,
    );
    const y2 = tf.matMul(x, W, false, true);
    const got2 = y2.dataSync();
    for (let i = 0; i < want2.length; i += 997)
      expect(Math.abs(got2[i] - want2[i])).toBeLessThan(1e-5 * (1 + Math.abs(want2[i])));
    tf.dispose([W, x, y2]);
  });

  it("the same data as a right operand under two shapes gives both products right", () => {
    const bv = seeded(24, 9);
    const b = tf.tensor(bv, [6, 4]);
    const b2 = b.reshape([4, 6]); // shares b's data
    const a = tf.tensor(seeded(12, 10), [2, 6]);
    const a2 = tf.tensor(seeded(8, 11), [2, 4]);
    const y = tf.matMul(a, b);
    const y2 = tf.matMul(a2, b2);
    const want = naiveMatMul(a.dataSync() as Float32Array, [2, 6], bv, [6, 4], false, false);
    const want2 = naiveMatMul(a2.dataSync() as Float32Array, [2, 4], bv, [4, 6], false, false);
    y.dataSync().forEach((v, i) => {
      expect(v).toBeCloseTo(want[i], 4);
    });
    y2.dataSync().forEach((v, i) => {
      expect(v).toBeCloseTo(want2[i], 4);
    });
    tf.dispose([a, a2, b, b2, y, y2]);
  });

  it("matmul gradients (which use transposed products) are right", () => {
    const a = tf.tensor(seeded(12, 6), [3, 4]);
    const b = tf.tensor(seeded(20, 7), [5, 4]);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, false, true).square().sum())([
      a,
      b,
    ]);
    // d/da Σ (a bᵀ)² = 2 (a bᵀ) b ; d/db = 2 (a bᵀ)ᵀ a
    const av = a.dataSync() as Float32Array;
    const bv = b.dataSync() as Float32Array;
    const y = naiveMatMul(av, [3, 4], bv, [5, 4], false, true);
    const wantA = naiveMatMul(y, [3, 5], bv, [5, 4], false, false).map((v) => 2 * v);
    const wantB = naiveMatMul(y, [3, 5], av, [3, 4], true, false).map((v) => 2 * v);
    ga.dataSync().forEach((v, i) => {
      expect(v).toBeCloseTo(wantA[i], 4);
    });
    gb.dataSync().forEach((v, i) => {
      expect(v).toBeCloseTo(wantB[i], 4);
    });
    tf.dispose([a, b, ga, gb]);
  });

  const perms: [number[], number[]][] = [
    [
      [3, 4],
      [1, 0],
    ],
    [
      [70, 45],
      [1, 0],
    ],
    [
      [2, 3, 4, 5],
      [0, 2, 1, 3],
    ],
    [
      [2, 3, 4, 5],
      [0, 1, 3, 2],
    ],
    [
      [2, 3, 4, 5],
      [3, 2, 1, 0],
    ],
    [
      [2, 1, 4, 5],
      [2, 0, 3, 1],
    ],
    [[6], [0]],
  ];
  for (const [shape, perm] of perms)
    it(`transposes [${shape}] by [${perm}]`, () => {
      const v = seeded(
        shape.reduce((x, y) => x * y, 1),
        8,
      );
      const x = tf.tensor(v, shape);
      const y = tf.transpose(x, perm);
      expect(y.shape).toEqual(perm.map((p) => shape[p]));
      expect(Array.from(y.dataSync())).toEqual(Array.from(naiveTranspose(v, shape, perm)));
      const i = tf.tensor(
        Int32Array.from(v, (z) => Math.round(z * 100)),
        shape,
        "int32",
      );
      const yi = tf.transpose(i, perm);
      expect(Array.from(yi.dataSync())).toEqual(
        Array.from(naiveTranspose(Float32Array.from(i.dataSync()), shape, perm)),
      );
      tf.dispose([x, y, i, yi]);
    });

  it("simplifies permutations to the fewest axes", () => {
    expect(simplifyPermutation([2, 3, 4, 5], [0, 2, 1, 3])).toEqual({
      shape: [2, 3, 4, 5],
      perm: [0, 2, 1, 3],
    });
    expect(simplifyPermutation([2, 3, 4, 5], [2, 3, 0, 1])).toEqual({ shape: [6, 20], perm: [1, 0] });
    expect(simplifyPermutation([1, 3, 1, 5], [0, 3, 2, 1])).toEqual({ shape: [3, 5], perm: [1, 0] });
    const dst = new Float32Array(6);
    transposeArray(Float32Array.from([1, 2, 3, 4, 5, 6]), dst, [2, 3], [1, 0]);
    expect(Array.from(dst)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it("clone shares data and survives disposing its source", () => {
    const x = tf.tensor([1, 2, 3]);
    const y = x.clone();
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
  });
});
