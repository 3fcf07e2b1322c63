import { initBackend } from "@llava-ts/core";
import { type Cases, compareTensors, expectNoLeaks, fixturePath, loadCases } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Qwen2ForCausalLM } from "./causal-lm.js";
import { positionIdsFromMask } from "./inputs.js";
import { KVCache } from "./kv-cache.js";

let model: Qwen2ForCausalLM;
let cases: Cases;

beforeAll(async () => {
  await initBackend();
  model = Qwen2ForCausalLM.fromPretrained(fixturePath("hf/qwen2"));
  cases = loadCases("hf/qwen2");
});

afterAll(() => {
  model?.dispose();
  cases?.close();
});

/**
 * Full forward vs prefill of `prefill` positions then one position at a time through the cache, over the
 * real (unpadded) positions: a padded query attends uniformly to every key the pass can see, all T of them
 * in the full forward but only those cached so far when decoding, so those rows differ by design (as HF).
 */
function incrementalError(ids: number[][], mask: number[][], prefill: number): number {
  const B = ids.length;
  const T = ids[0].length;
  const flatMask = mask.flat();
  const positions = positionIdsFromMask(flatMask, B, T); // [B, T]
  const full = model.forward({ inputIds: ids, attentionMask: flatMask, positionIds: positions });
  const cache = new KVCache(model.config.num_hidden_layers);
  let worst = 0;
  try {
    for (let start = 0; start < T; ) {
      const len = start === 0 ? prefill : 1;
      const slice = (x: ArrayLike<number>[], from: number, n: number) =>
        x.map((r) => Array.from(r).slice(from, from + n));
      const step = model.forward({
        inputIds: slice(ids, start, len),
        attentionMask: slice(mask, 0, start + len).flat(), // [B, S]
        positionIds: slice(
          Array.from({ length: B }, (_, b) => positions.subarray(b * T, (b + 1) * T)),
          start,
          len,
        ),
        cache,
      });
      expect(cache.length).toBe(start + len);
      for (let b = 0; b < B; b++)
        for (let t = start; t < start + len; t++) {
          if (mask[b][t] === 0) continue;
          const got = step.logits.slice([b, t - start, 0], [1, 1, -1]);
          const expected = full.logits.slice([b, t, 0], [1, 1, -1]);
          worst = Math.max(worst, compareTensors(got, expected).maxAbs);
          tf.dispose([got, expected]);
        }
      step.logits.dispose();
      start += len;
    }
  } finally {
    cache.dispose();
    full.logits.dispose();
  }
  return worst;
}

describe("KVCache", () => {
  it("incremental decoding equals the full forward within 1e-4 (fixture batch, row 1 left-padded)", () => {
    const [B, T] = cases.shape("input_ids");
    const ids = cases.array("input_ids");
    const mask = cases.array("attention_mask");
    const rows = (x: ArrayLike<number>) =>
      Array.from({ length: B }, (_, b) => Array.from(x).slice(b * T, (b + 1) * T));
    for (const prefill of [1, 5]) {
      const err = incrementalError(rows(ids), rows(mask), prefill);
      console.log(`cache vs full forward, prefill ${prefill}: max |Δ| ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
    }
  });

  it("holds [B, Hkv, S, D] per layer and frees everything on dispose", () => {
    const before = tf.memory().numTensors;
    const cache = new KVCache(2);
    const k = tf.zeros([1, 2, 3, 16]);
    const v = tf.zeros([1, 2, 3, 16]);
    const all = cache.update(0, k, v);
    expect(all.k.shape).toEqual([1, 2, 3, 16]);
    const next = cache.update(0, k, v);
    expect(next.k.shape).toEqual([1, 2, 6, 16]);
    expect(cache.length).toBe(6);
    expect(() => cache.update(0, tf.zeros([2, 2, 1, 16]), v)).toThrow(/cannot take/);
    cache.dispose();
    tf.dispose([k, v]);
    expect(cache.length).toBe(0);
    // The rejected zeros tensor above is the only survivor.
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(1);
  });

  it("a cached decoding step leaks nothing", async () => {
    const cache = new KVCache(model.config.num_hidden_layers);
    const prompt = model.forward({ inputIds: [[1, 2, 3, 4]], cache });
    prompt.logits.dispose();
    // Each call appends one position; the cache's own tensors are replaced, not added.
    await expectNoLeaks(() => model.forward({ inputIds: [[5]], cache, logitsMode: "last" }), "cached step");
    cache.dispose();
  });
});
