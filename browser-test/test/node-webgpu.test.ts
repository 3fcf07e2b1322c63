// WebGPU under Node (LLAVA_BACKEND=webgpu): the optional `webgpu` package (Dawn) under tfjs' webgpu backend.
// Where Dawn finds no GPU adapter, initBackend says so in one line and the parity checks are skipped, printing
// that line; elsewhere the fixture LLaVA's logits must be within 1e-4 of transformers' and greedy ids exact.
import { ConfigError, initBackend } from "@llava-ts/core";
import { fixturePath, loadCases } from "@llava-ts/core/testing";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";

it("webgpu under Node: fixture logits within 1e-4 and greedy ids exact, or one line saying why not", async (ctx) => {
  let backend: string;
  try {
    backend = await initBackend({ backend: "webgpu" });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const message = (e as Error).message;
    expect(message).toMatch(/^LLAVA_BACKEND=webgpu: no WebGPU adapter on this machine/);
    expect(message).not.toContain("\n");
    console.log(`webgpu parity skipped: ${message}`);
    return ctx.skip();
  }
  expect(backend).toBe("webgpu");
  const cases = loadCases("hf/llava");
  const model = LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"));
  const px = cases.tensor("pixel_values");
  const out = model.forward({
    inputIds: cases.array("input_ids"),
    batchSize: 2,
    attentionMask: cases.array("attention_mask"),
    labels: cases.array("labels"),
    pixelValues: px,
  });
  const got = out.logits.dataSync();
  const want = cases.array("logits");
  let max = 0;
  for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
  expect(max).toBeLessThan(1e-4);
  const prompt = Array.from(cases.array("generate.input_ids"));
  const expected = Array.from(cases.array("generate.output"));
  const first = px.slice([0], [1]);
  const gen = await model.generate(tf.tensor2d(prompt, [1, prompt.length], "int32"), {
    pixelValues: first,
    maxNewTokens: expected.length - prompt.length,
    eosTokenId: [],
  });
  expect(gen.sequences[0]).toEqual(expected);
  tf.dispose([px, first, out.logits, out.loss!]);
  model.dispose();
  cases.close();
});
