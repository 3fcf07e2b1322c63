import { ConfigError, initBackend, Rng } from "@llava-ts/core";
import { type Cases, expectNoLeaks, fixturePath, loadCases } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Qwen2ForCausalLM } from "./causal-lm.js";
import { parseQwen2Config } from "./config.js";
import type { GenerateStep } from "./generate.js";
import { applyRepetitionPenalty, applyTopK, applyTopP, sampleFrom } from "./logits-processors.js";

let model: Qwen2ForCausalLM;
let cases: Cases;
let prompt: number[];
let expected: number[];

beforeAll(async () => {
  await initBackend();
  model = Qwen2ForCausalLM.fromPretrained(fixturePath("hf/qwen2"));
  cases = loadCases("hf/qwen2");
  prompt = Array.from(cases.array("generate.prompt"));
  expected = Array.from(cases.array("generate.output"));
});

afterAll(() => {
  model?.dispose();
  cases?.close();
});

// The fixture model repeats one token greedily; this random one (seed and std picked for it) varies.
const lively = () =>
  new Qwen2ForCausalLM(
    parseQwen2Config({
      vocab_size: 96,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      initializer_range: 1,
    }),
    { seed: 3 },
  );
const promptA = [5, 17, 42, 9, 33];
const promptB = [60, 2, 71];

const sampling = { doSample: true, temperature: 0.9, topK: 20, topP: 0.9, maxNewTokens: 8 };

describe("generate", () => {
  it("greedy decoding reproduces HF's generate.output exactly", async () => {
    const out = await model.generate([prompt], { maxNewTokens: expected.length - prompt.length });
    expect(out.sequences[0]).toEqual(expected);
    expect(out.newTokens[0]).toEqual(expected.slice(prompt.length));
  });

  it("streams tokens as they come, through onToken and through stream()", async () => {
    const maxNewTokens = expected.length - prompt.length;
    const seen: number[] = [];
    await model.generate([prompt], { maxNewTokens, onToken: (s) => seen.push(...s.tokens) });
    expect(seen).toEqual(expected.slice(prompt.length));
    const streamed: GenerateStep[] = [];
    for await (const step of model.stream([prompt], { maxNewTokens })) streamed.push(step);
    expect(streamed.map((s) => s.step)).toEqual([...Array(maxNewTokens).keys()]);
    expect(streamed.map((s) => s.tokens[0])).toEqual(expected.slice(prompt.length));
  });

  it("a left-padded batch decodes each row as it would alone", async () => {
    const lm = lively();
    const a = await lm.generate([promptA], { maxNewTokens: 12, eosTokenId: [] });
    const b = await lm.generate([promptB], { maxNewTokens: 12, eosTokenId: [] });
    expect(new Set(a.newTokens[0]).size).toBeGreaterThan(5); // a model that does not just repeat itself
    const batch = await lm.generate([promptA, [0, 0, ...promptB]], {
      attentionMask: [promptA.map(() => 1), [0, 0, ...promptB.map(() => 1)]],
      maxNewTokens: 12,
      eosTokenId: [],
    });
    expect(batch.newTokens).toEqual([a.newTokens[0], b.newTokens[0]]);
    expect(batch.sequences[1]).toEqual([0, 0, ...promptB, ...b.newTokens[0]]);
    lm.dispose();
  });

  it("stops a row at any of several eos ids, pads it afterwards, and stops when all rows are done", async () => {
    const lm = lively();
    const a = (await lm.generate([promptA], { maxNewTokens: 12, eosTokenId: [] })).newTokens[0];
    const b = (await lm.generate([promptB], { maxNewTokens: 12, eosTokenId: [] })).newTokens[0];
    // Row A stops on its 4th token, row B on its 10th (each id absent from the other row before that).
    const eosA = a[3];
    const eosB = b[9];
    expect(a.slice(0, 3)).not.toContain(eosA);
    expect(b.slice(0, 9)).not.toContain(eosA);
    expect(b.slice(0, 9)).not.toContain(eosB);
    expect(a.slice(0, 3)).not.toContain(eosB);
    const steps: boolean[][] = [];
    const out = await lm.generate([promptA, [0, 0, ...promptB]], {
      attentionMask: [promptA.map(() => 1), [0, 0, ...promptB.map(() => 1)]],
      maxNewTokens: 12,
      eosTokenId: [eosB, eosA],
      padTokenId: 95,
      onToken: (s) => steps.push(s.finished),
    });
    expect(out.newTokens[0]).toEqual([...a.slice(0, 4), ...new Array(6).fill(95)]);
    expect(out.newTokens[1]).toEqual(b.slice(0, 10));
    expect(steps[3]).toEqual([true, false]);
    expect(steps.length).toBe(10);
    // A single eos id as a number.
    const single = await lm.generate([promptA], { maxNewTokens: 12, eosTokenId: eosA });
    expect(single.newTokens[0]).toEqual(a.slice(0, 4));
    lm.dispose();
  });

  it("sampling is deterministic given a seed and depends on it", async () => {
    const a = await model.generate([prompt], { ...sampling, seed: 1 });
    const b = await model.generate([prompt], { ...sampling, seed: 1 });
    expect(a.newTokens).toEqual(b.newTokens);
    const others = await Promise.all(
      [2, 3, 4, 5].map((seed) => model.generate([prompt], { ...sampling, seed })),
    );
    expect(others.some((o) => o.newTokens[0].join() !== a.newTokens[0].join())).toBe(true);
  });

  it("top-k = 1 sampling equals greedy", async () => {
    const out = await model.generate([prompt], {
      doSample: true,
      topK: 1,
      temperature: 1.5,
      seed: 9,
      maxNewTokens: 10,
    });
    expect(out.sequences[0]).toEqual(expected);
  });

  it("repetition penalty changes greedy output away from repeated tokens", async () => {
    const plain = await model.generate([prompt], { maxNewTokens: 10 });
    const penalised = await model.generate([prompt], { maxNewTokens: 10, repetitionPenalty: 100 });
    // With a huge penalty no token of the prompt or earlier output is chosen again unless all are negative.
    const seen = new Set(prompt);
    for (const t of penalised.newTokens[0]) {
      expect(seen.has(t)).toBe(false);
      seen.add(t);
    }
    expect(plain.newTokens[0]).toEqual(expected.slice(prompt.length));
  });

  it("rejects bad options", async () => {
    await expect(model.generate([prompt], { doSample: true, temperature: 0 })).rejects.toThrow(ConfigError);
    await expect(model.generate([prompt], { doSample: true, topP: 1.5 })).rejects.toThrow(/topP/);
  });

  it("a short generate leaks no tensors", async () => {
    await expectNoLeaks(() => model.generate([prompt], { maxNewTokens: 4 }), "greedy generate");
    await expectNoLeaks(
      () => model.generate([prompt], { ...sampling, maxNewTokens: 4, seed: 1 }),
      "sampled generate",
    );
    // Abandoning a stream early still frees its cache.
    const before = tf.memory().numTensors;
    for await (const step of model.stream([prompt], { maxNewTokens: 5 })) if (step.step === 1) break;
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("logits processors (HF semantics)", () => {
  it("repetition penalty divides positive and multiplies negative scores of seen tokens", () => {
    const s = Float32Array.from([2, -2, 4, 1]);
    applyRepetitionPenalty(s, [0, 1, 1], 2);
    expect(Array.from(s)).toEqual([1, -4, 4, 1]);
  });

  it("top-k keeps the k largest (ties with the k-th kept)", () => {
    const s = Float32Array.from([1, 5, 3, 3, 0]);
    applyTopK(s, 2);
    expect(Array.from(s)).toEqual([-Infinity, 5, 3, 3, -Infinity]);
  });

  it("top-p drops the tail whose cumulative probability stays within 1 - p, keeping the best", () => {
    const probs = [0.5, 0.3, 0.15, 0.05];
    const s = Float32Array.from(probs.map(Math.log));
    applyTopP(s, 0.75); // ascending cumsum 0.05, 0.2, 0.5, 1 → drop ≤ 0.25: 0.05 and 0.15 tokens
    expect(Array.from(s).map((x) => x > -Infinity)).toEqual([true, true, false, false]);
    const t = Float32Array.from(probs.map(Math.log));
    applyTopP(t, 0.01);
    expect(Array.from(t).map((x) => x > -Infinity)).toEqual([true, false, false, false]);
  });

  it("samples in proportion to softmax", () => {
    const rng = new Rng(123);
    const s = Float32Array.from([Math.log(0.7), Math.log(0.3), -Infinity]);
    const counts = [0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[sampleFrom(s, rng)]++;
    expect(counts[2]).toBe(0);
    expect(counts[0] / 4000).toBeGreaterThan(0.66);
    expect(counts[0] / 4000).toBeLessThan(0.74);
  });
});
