import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend, ShapeError, WeightLoadError } from "@llava-ts/core";
import {
  type Cases,
  expectNoLeaks,
  expectTensorsClose,
  fixturePath,
  loadCases,
} from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlavaForConditionalGeneration } from "./llava-model.js";

let cases: Cases;
let model: LlavaForConditionalGeneration;
const tmp = mkdtempSync(join(tmpdir(), "llava-model-"));

beforeAll(async () => {
  await initBackend();
  cases = loadCases("hf/llava");
  model = LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"));
});

afterAll(() => {
  model?.dispose();
  cases?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function batch() {
  return {
    inputIds: cases.array("input_ids"),
    attentionMask: cases.array("attention_mask"),
    labels: cases.array("labels"),
    pixelValues: cases.tensor("pixel_values"),
    shape: cases.shape("input_ids") as [number, number],
  };
}

describe("LlavaForConditionalGeneration on fixtures/hf/llava", () => {
  it("image features match within 1e-4", () => {
    const px = cases.tensor("pixel_values");
    const feats = model.getImageFeatures(px);
    const r = expectTensorsClose(feats, cases.tensor("image_features"), {
      atol: 1e-4,
      label: "image_features",
    });
    expect(r.maxAbs).toBeLessThan(1e-4);
    tf.dispose([px, feats]);
  });

  it("logits within 1e-4 and loss within 1e-5", () => {
    const b = batch();
    const ids = tf.tensor2d(b.inputIds, b.shape, "int32");
    const out = model.forward({
      inputIds: ids,
      attentionMask: b.attentionMask,
      labels: b.labels,
      pixelValues: b.pixelValues,
    });
    expectTensorsClose(out.logits, cases.tensor("logits"), { atol: 1e-4, label: "logits" });
    expectTensorsClose(out.loss!, cases.array("loss"), { atol: 1e-5, label: "loss" });
    tf.dispose([ids, b.pixelValues, out.logits, out.loss!]);
  });

  it("logits only at labelled positions give the same loss", () => {
    const b = batch();
    const ids = tf.tensor2d(b.inputIds, b.shape, "int32");
    const out = model.forward({
      inputIds: ids,
      labels: b.labels,
      attentionMask: b.attentionMask,
      pixelValues: b.pixelValues,
      logitsMode: "labelled",
    });
    expectTensorsClose(out.loss!, cases.array("loss"), { atol: 1e-5, label: "labelled loss" });
    expect(out.logits.shape[0]).toBeLessThan(b.shape[0] * b.shape[1]);
    tf.dispose([ids, b.pixelValues, out.logits, out.loss!]);
  });

  it("greedy generate reproduces generate.output exactly", async () => {
    const prompt = cases.array("generate.input_ids");
    const expected = Array.from(cases.array("generate.output"));
    const px = cases.tensor("pixel_values").slice([0], [1]);
    const ids = tf.tensor2d(prompt, [1, prompt.length], "int32");
    const out = await model.generate(ids, {
      pixelValues: px,
      maxNewTokens: expected.length - prompt.length,
      eosTokenId: [],
    });
    expect(out.sequences[0]).toEqual(expected);
    tf.dispose([px, ids]);
  });

  it("streams the same tokens as generate", async () => {
    const prompt = cases.array("generate.input_ids");
    const expected = Array.from(cases.array("generate.output")).slice(prompt.length);
    const px = cases.tensor("pixel_values").slice([0], [1]);
    const seen: number[] = [];
    for await (const step of model.stream(Array.from(prompt), {
      pixelValues: px,
      maxNewTokens: expected.length,
      eosTokenId: [],
    }))
      seen.push(step.tokens[0]);
    expect(seen).toEqual(expected);
    px.dispose();
  });

  it("forward does not leak", async () => {
    const b = batch();
    const ids = tf.tensor2d(b.inputIds, b.shape, "int32");
    await expectNoLeaks(
      () => model.forward({ inputIds: ids, labels: b.labels, pixelValues: b.pixelValues }),
      "llava forward",
    );
    const [row, px] = [ids.slice([0, 0], [1, -1]), b.pixelValues.slice([0], [1])];
    await expectNoLeaks(() => model.generate(row, { pixelValues: px, maxNewTokens: 3 }), "llava generate");
    tf.dispose([ids, row, px, b.pixelValues]);
  });

  it("rejects an image-token count that does not match the images", () => {
    const b = batch();
    const one = b.pixelValues.slice([0], [1]);
    expect(() =>
      model.forward({ inputIds: tf.tensor2d(b.inputIds, b.shape, "int32"), pixelValues: one }),
    ).toThrow(ShapeError);
    expect(() => model.forward({ inputIds: tf.tensor2d(b.inputIds, b.shape, "int32") })).toThrow(
      /32 image tokens but no pixel values/,
    );
    tf.dispose([one, b.pixelValues]);
  });

  it("savePretrained → fromPretrained round-trips bit-exactly, sharded with an index", async () => {
    const out = join(tmp, "saved");
    const written = await model.savePretrained(out, { maxShardSize: 100_000 });
    expect(written.index).toBeDefined();
    expect(readdirSync(out)).toContain("model.safetensors.index.json");
    const back = LlavaForConditionalGeneration.fromPretrained(out);
    const a = model.stateDict();
    const b = back.stateDict();
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(b.get(k)!.dataSync(), k).toEqual(v.dataSync());
    back.dispose();
  });

  it("names a missing tensor", async () => {
    const out = join(tmp, "missing");
    await model.savePretrained(out);
    const { SafetensorsFile, saveSafetensors } = await import("@llava-ts/core");
    const file = SafetensorsFile.open(join(out, "model.safetensors"));
    const kept: Record<string, { dtype: "float32"; shape: number[]; data: Float32Array }> = {};
    for (const k of file.keys())
      if (k !== "multi_modal_projector.linear_2.bias")
        kept[k] = {
          dtype: "float32",
          shape: [...file.info(k).shape],
          data: file.read(k).data as Float32Array,
        };
    file.close();
    await saveSafetensors(join(out, "model.safetensors"), kept);
    expect(() => LlavaForConditionalGeneration.fromPretrained(out)).toThrow(WeightLoadError);
    expect(() => LlavaForConditionalGeneration.fromPretrained(out)).toThrow(
      /multi_modal_projector\.linear_2\.bias/,
    );
  });
});
