// Offloaded Qwen2 (weights left in the checkpoint, output matrix in vocabulary chunks) and gradient
// checkpointing against the resident model: the same logits, loss, greedy ids and gradients.
import { clearHeapCache, initBackend, OffloadedParameter } from "@llava-ts/core";
import { type Cases, compareTensors, expectNoLeaks, fixturePath, loadCases } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Qwen2ForCausalLM } from "./causal-lm.js";

let resident: Qwen2ForCausalLM;
let offloaded: Qwen2ForCausalLM;
let cases: Cases;
let B: number;
let T: number;
let ids: Int32Array;
let mask: Int32Array;
let labels: Int32Array;

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
  resident = Qwen2ForCausalLM.fromPretrained(fixturePath("hf/qwen2"), { offload: false });
  offloaded = Qwen2ForCausalLM.fromPretrained(fixturePath("hf/qwen2"), { offload: true });
  offloaded.vocabChunkBytes = 100 * 64 * 4; // 100 rows a chunk: the 512-word vocabulary in 6 chunks
  cases = loadCases("hf/qwen2");
  [B, T] = cases.shape("input_ids");
  ids = cases.array("input_ids") as Int32Array;
  mask = cases.array("attention_mask") as Int32Array;
  labels = cases.array("labels") as Int32Array;
});

afterAll(() => {
  resident?.dispose();
  offloaded?.dispose();
  cases?.close();
});

const rows = (x: Int32Array) =>
  Array.from({ length: B }, (_, b) => Array.from(x.subarray(b * T, (b + 1) * T)));

describe("an offloaded Qwen2", () => {
  it("loads every weight offloaded and nothing trainable; the output matrix is the tied embedding", () => {
    expect(offloaded.offloadedParameters().length).toBe([...offloaded.namedParameters()].length);
    expect(offloaded.trainableParameters()).toEqual([]);
    expect(offloaded.model.embed_tokens.parameter("weight")).toBeInstanceOf(OffloadedParameter);
    expect(resident.offloadedParameters()).toEqual([]);
  });

  it("gives the resident model's logits and loss (logits bit for bit; the chunked loss within 1e-6)", () => {
    const input = { inputIds: rows(ids), attentionMask: rows(mask), labels: rows(labels) };
    const a = resident.forward({ ...input, logitsMode: "all" });
    const b = offloaded.forward({ ...input, logitsMode: "all" });
    expect(compareTensors(b.logits, a.logits).maxAbs).toBe(0);
    expect(b.loss!.dataSync()[0]).toBe(a.loss!.dataSync()[0]);
    const c = offloaded.forward({ ...input, logitsMode: "none" });
    const d = resident.forward({ ...input, logitsMode: "none" });
    expect(Math.abs(c.loss.dataSync()[0] - a.loss!.dataSync()[0])).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(d.loss.dataSync()[0] - a.loss!.dataSync()[0])).toBeLessThanOrEqual(1e-6);
    tf.dispose([a.logits, a.loss!, b.logits, b.loss!, c.loss, d.loss]);
  });

  it("decodes greedily the ids transformers gave, with its KV cache", async () => {
    const prompt = Array.from(cases.array("generate.prompt"));
    const expected = Array.from(cases.array("generate.output"));
    const out = await offloaded.generate([prompt], { maxNewTokens: expected.length - prompt.length });
    expect(out.sequences[0]).toEqual(expected);
  });

  it("streams through a heap budget of less than the model (layers come and go) with the same ids", async () => {
    const prompt = Array.from(cases.array("generate.prompt"));
    const want = (await resident.generate([prompt], { maxNewTokens: 6 })).sequences[0];
    clearHeapCache();
    const { setMaxHeap, heapCacheStats } = await import("@llava-ts/core");
    const layerBytes = offloaded.model.layers
      .at(0)
      .offloadedParameters()
      .reduce((a, p) => a + p.heapBytes, 0);
    setMaxHeap(tf.memory().numBytes + 2 * layerBytes);
    try {
      const before = heapCacheStats().evictions;
      const got = (await offloaded.generate([prompt], { maxNewTokens: 6 })).sequences[0];
      expect(got).toEqual(want);
      expect(heapCacheStats().evictions).toBeGreaterThan(before);
    } finally {
      setMaxHeap();
    }
  });

  it("trains what is unfrozen: the same gradients as the resident model, with and without checkpointing", () => {
    const input = { inputIds: rows(ids), attentionMask: rows(mask), labels: rows(labels) };
    const pattern = /(input_layernorm|post_attention_layernorm)\.weight$/;
    const grads = (m: Qwen2ForCausalLM, checkpointing: boolean) => {
      m.model.gradientCheckpointing = checkpointing;
      const vars = m.trainableParameters().map(([, v]) => v);
      const r = tf.engine().gradients(() => m.forward({ ...input, logitsMode: "none" }).loss, vars);
      m.model.gradientCheckpointing = false;
      return r;
    };
    resident.freeze().unfreeze(pattern);
    offloaded.unfreeze(pattern); // brought into the heap as variables; the rest stays offloaded
    expect(offloaded.trainableParameters().length).toBe(4);
    const want = grads(resident, false);
    for (const checkpointing of [false, true]) {
      const got = grads(offloaded, checkpointing);
      expect(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0])).toBeLessThanOrEqual(1e-6);
      got.grads.forEach((g, i) => {
        expect(compareTensors(g, want.grads[i]).maxAbs, `${checkpointing} ${i}`).toBeLessThanOrEqual(1e-6);
      });
      tf.dispose([got.value, ...got.grads]);
    }
    tf.dispose([want.value, ...want.grads]);
    resident.unfreeze();
  });
});

describe("gradient checkpointing on the resident model", () => {
  it("gives every parameter the same gradient within 1e-6, and leaks nothing", async () => {
    const input = { inputIds: rows(ids), attentionMask: rows(mask), labels: rows(labels) };
    const vars = resident.trainableParameters().map(([, v]) => v);
    expect(vars.length).toBe([...resident.namedParameters()].length);
    const run = (on: boolean) => {
      resident.model.gradientCheckpointing = on;
      try {
        return tf
          .engine()
          .gradients(() => resident.forward({ ...input, logitsMode: "labelled" }).loss!, vars);
      } finally {
        resident.model.gradientCheckpointing = false;
      }
    };
    const plain = run(false);
    const ckpt = run(true);
    expect(Math.abs(ckpt.value.dataSync()[0] - plain.value.dataSync()[0])).toBeLessThanOrEqual(1e-6);
    plain.grads.forEach((g, i) => {
      expect(compareTensors(ckpt.grads[i], g).maxAbs, vars[i].name).toBeLessThanOrEqual(1e-6);
    });
    tf.dispose([plain.value, ckpt.value, ...plain.grads, ...ckpt.grads]);
    await expectNoLeaks(() => {
      const r = run(true);
      return [r.value, ...r.grads];
    }, "checkpointed backward");
  });
});
