import { initBackend, ShapeError } from "@llava-ts/core";
import {
  type Cases,
  compareTensors,
  expectNoLeaks,
  expectTensorsClose,
  fixturePath,
  loadCases,
} from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Qwen2ForCausalLM } from "./causal-lm.js";
import { positionIdsFromMask } from "./inputs.js";

let model: Qwen2ForCausalLM;
let cases: Cases;
let B: number;
let T: number;
let ids: Int32Array;
let mask: Int32Array;
let labels: Int32Array;

beforeAll(async () => {
  await initBackend();
  model = Qwen2ForCausalLM.fromPretrained(fixturePath("hf/qwen2"));
  cases = loadCases("hf/qwen2");
  [B, T] = cases.shape("input_ids");
  ids = cases.array("input_ids") as Int32Array;
  mask = cases.array("attention_mask") as Int32Array;
  labels = cases.array("labels") as Int32Array;
});

afterAll(() => {
  model?.dispose();
  cases?.close();
});

const row = (x: Int32Array, b: number) => Array.from(x.subarray(b * T, (b + 1) * T));
const rows = (x: Int32Array) => Array.from({ length: B }, (_, b) => row(x, b));

describe("Qwen2ForCausalLM parity with transformers (hf/qwen2)", () => {
  it("matches logits of both rows (row 1 left-padded, padded positions included) within 1e-4, loss within 1e-5", () => {
    expect(mask.includes(0)).toBe(true); // the fixture really has padding
    const out = model.forward({ inputIds: cases.tensor("input_ids"), attentionMask: mask, labels });
    const expected = cases.tensor("logits");
    const report = expectTensorsClose(out.logits, expected, { atol: 1e-4, label: "logits" });
    const loss = out.loss!.dataSync()[0];
    const lossErr = Math.abs(loss - cases.array("loss")[0]);
    console.log(`logits max |Δ| ${report.maxAbs.toExponential(2)}, loss |Δ| ${lossErr.toExponential(2)}`);
    expect(lossErr).toBeLessThan(1e-5);
    tf.dispose([out.logits, out.loss!, expected]);
  });

  it("matches with generate's cumsum position ids too (RoPE is shift-invariant on the real tokens)", () => {
    const out = model.forward({
      inputIds: rows(ids),
      attentionMask: mask,
      positionIds: positionIdsFromMask(mask, B, T),
    });
    const expected = cases.tensor("logits");
    expectTensorsClose(out.logits.reshape([B, T, -1]), expected, { atol: 1e-4 });
    tf.dispose([out.logits, expected]);
  });

  it("accepts nested arrays and inputsEmbeds in place of ids", () => {
    const a = model.forward({ inputIds: rows(ids), attentionMask: mask });
    const emb = model.model.embed_tokens.forward(tf.tensor2d(ids, [B, T], "int32"));
    const b = model.forward({ inputsEmbeds: emb, attentionMask: mask });
    expect(compareTensors(a.logits, b.logits).maxAbs).toBe(0);
    expect(emb.isDisposed).toBe(false);
    tf.dispose([a.logits, b.logits, emb]);
  });

  it('logitsMode "labelled" gives the same loss and the logits of the labelled rows only', () => {
    const full = model.forward({ inputIds: rows(ids), attentionMask: mask, labels });
    const part = model.forward({
      inputIds: cases.tensor("input_ids"),
      attentionMask: mask,
      labels,
      logitsMode: "labelled",
    });
    const n = labels.filter((y, i) => i % T !== 0 && y !== -100).length;
    expect(part.logits.shape).toEqual([n, 512]);
    expect(Math.abs(part.loss!.dataSync()[0] - full.loss!.dataSync()[0])).toBeLessThan(1e-6);
    // The first labelled row: position t of row b predicts labels[b, t + 1].
    const first = labels.findIndex((y, i) => i % T !== 0 && y !== -100) - 1;
    const fromFull = full.logits.reshape([B * T, -1]).slice([first, 0], [1, -1]);
    expect(compareTensors(part.logits.slice([0, 0], [1, -1]), fromFull).maxAbs).toBeLessThan(1e-5);
    tf.dispose([full.logits, full.loss!, part.logits, part.loss!, fromFull]);
  });

  it('logitsMode "last" equals the last position of the full logits', () => {
    const full = model.forward({ inputIds: rows(ids), attentionMask: mask });
    const last = model.forward({
      inputIds: cases.tensor("input_ids"),
      attentionMask: mask,
      logitsMode: "last",
    });
    expect(last.logits.shape).toEqual([B, 1, 512]);
    const expected = full.logits.slice([0, T - 1, 0], [B, 1, -1]);
    expect(compareTensors(last.logits, expected).maxAbs).toBeLessThan(1e-5);
    tf.dispose([full.logits, last.logits, expected]);
  });

  it("right padding: real positions equal those of the unpadded sequence", () => {
    // Row 0 of the fixture has no padding; drop its tail and pad on the right instead.
    const keep = T - 4;
    const shortIds = [row(ids, 0).slice(0, keep)];
    const padded = [[...shortIds[0], 0, 0, 0, 0]];
    const rightMask = [[...new Array(keep).fill(1), 0, 0, 0, 0]];
    const a = model.forward({ inputIds: shortIds });
    const b = model.forward({ inputIds: padded, attentionMask: rightMask });
    const real = b.logits.slice([0, 0, 0], [1, keep, -1]);
    expect(compareTensors(real, a.logits).maxAbs).toBeLessThan(1e-5);
    tf.dispose([a.logits, b.logits, real]);
  });

  it("left padding: with cumsum positions, real positions equal those of the unpadded sequence", () => {
    const keep = T - 3;
    const shortIds = [row(ids, 0).slice(3)];
    const padded = [[7, 7, 7, ...shortIds[0]]];
    const leftMask = [0, 0, 0, ...new Array(keep).fill(1)];
    const a = model.forward({ inputIds: shortIds });
    const b = model.forward({
      inputIds: padded,
      attentionMask: leftMask,
      positionIds: positionIdsFromMask(leftMask, 1, T),
    });
    const real = b.logits.slice([0, 3, 0], [1, keep, -1]);
    expect(compareTensors(real, a.logits).maxAbs).toBeLessThan(1e-5);
    tf.dispose([a.logits, b.logits, real]);
  });

  it("returns HF's hidden_states: embeddings, each layer, the last after norm", () => {
    const out = model.forward({ inputIds: [row(ids, 0)], outputHiddenStates: true });
    const last = out.hiddenStates![2];
    const logits = model.logits(last);
    expect(compareTensors(logits, out.logits).maxAbs).toBe(0);
    logits.dispose();
    expect(out.hiddenStates!.length).toBe(3);
    tf.dispose([out.logits, ...out.hiddenStates!]);
  });

  it("rejects bad input with both shapes", () => {
    expect(() => model.forward({ inputIds: [[1, 2, 3]], attentionMask: [[1, 1]] })).toThrow(ShapeError);
    expect(() => model.forward({ inputIds: [[1, 2, 3]], attentionMask: [[1, 1]] })).toThrow(
      /expected 1·3 values|\[1, 3\]/,
    );
    expect(() => model.forward({ inputIds: [[1, 512]] })).toThrow(/id 512 .* outside \[0, 512\)/);
    expect(() => model.forward({ inputsEmbeds: tf.zeros([1, 2, 63]) })).toThrow(/expected \[B, T, 64\]/);
  });

  it("trains: gradients reach every parameter (tied embedding included), same for both logits modes", () => {
    const input = cases.tensor("input_ids");
    const grads = (mode: "all" | "labelled") =>
      tf.variableGrads(
        () => model.forward({ inputIds: input, attentionMask: mask, labels, logitsMode: mode }).loss!,
      );
    const full = grads("all");
    const part = grads("labelled");
    expect(Object.keys(full.grads).length).toBe(model.stateDict().size);
    for (const [name, g] of Object.entries(full.grads)) {
      const values = g.dataSync();
      expect(values.every(Number.isFinite), name).toBe(true);
      expect(
        values.some((x) => x !== 0),
        name,
      ).toBe(true);
      expect(compareTensors(part.grads[name], g).maxAbs, name).toBeLessThan(1e-6);
    }
    tf.dispose([input, full.value, part.value, ...Object.values(full.grads), ...Object.values(part.grads)]);
  });

  it("forward (with loss) leaks no tensors", async () => {
    const input = cases.tensor("input_ids");
    await expectNoLeaks(() => model.forward({ inputIds: input, attentionMask: mask, labels }), "forward");
    await expectNoLeaks(
      () => model.forward({ inputIds: input, attentionMask: mask, labels, logitsMode: "labelled" }),
      "forward labelled",
    );
    input.dispose();
  });
});
