import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  initBackend,
  type PlainTensor,
  readJsonFile,
  SafetensorsCheckpoint,
  saveSafetensors,
  WeightLoadError,
} from "@llava-ts/core";
import { type Cases, expectTensorsClose, fixturePath, loadCases } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClipVisionModel } from "./clip-vision-model.js";

const DIR = fixturePath("hf/clip-vision");
let cases: Cases;
let model: ClipVisionModel;
let pixels: tf.Tensor;
let tmp: string;

beforeAll(async () => {
  await initBackend();
  cases = loadCases("hf/clip-vision");
  model = ClipVisionModel.fromPretrained(DIR);
  pixels = cases.tensor("pixel_values");
  tmp = mkdtempSync(join(tmpdir(), "llava-clip-"));
});

afterAll(() => {
  pixels.dispose();
  model.dispose();
  cases.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The fixture checkpoint's tensors as plain arrays, edited by `edit`, written to a new folder. */
async function writeCheckpoint(
  name: string,
  config: Record<string, unknown>,
  edit: (tensors: Record<string, PlainTensor>) => void,
): Promise<string> {
  const ckpt = SafetensorsCheckpoint.open(DIR);
  const tensors: Record<string, PlainTensor> = {};
  for (const k of ckpt.keys()) {
    const { data, shape } = ckpt.read(k);
    tensors[k] = { dtype: "float32", shape, data: data as Float32Array };
  }
  ckpt.close();
  edit(tensors);
  const dir = join(tmp, name);
  mkdirSync(dir);
  await saveSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  return dir;
}

function expectClose(actual: tf.Tensor, name: string): number {
  const expected = cases.tensor(name);
  try {
    return expectTensorsClose(actual, expected, { atol: 1e-4, label: name }).maxAbs;
  } finally {
    expected.dispose();
  }
}

describe("ClipVisionModel.fromPretrained", () => {
  it("loads the vision tower of a full CLIP checkpoint and ignores the text tower and projections", async () => {
    const vision = readJsonFile(fixturePath("hf/clip-vision/config.json"));
    const config = {
      architectures: ["CLIPModel"],
      model_type: "clip",
      projection_dim: 32,
      text_config: {
        model_type: "clip_text_model",
        hidden_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
      },
      vision_config: { ...vision, architectures: undefined },
    };
    const dir = await writeCheckpoint("full-clip", config, (t) => {
      const zeros = (shape: number[]): PlainTensor => ({
        dtype: "float32",
        shape,
        data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
      });
      t["text_model.embeddings.token_embedding.weight"] = zeros([100, 32]);
      t["text_model.embeddings.position_embedding.weight"] = zeros([77, 32]);
      t["text_model.encoder.layers.0.self_attn.q_proj.weight"] = zeros([32, 32]);
      t["text_model.final_layer_norm.weight"] = zeros([32]);
      t["text_projection.weight"] = zeros([32, 32]);
      t["visual_projection.weight"] = zeros([32, 64]);
      t.logit_scale = zeros([]);
    });
    const full = ClipVisionModel.fromPretrained(dir);
    expect(full.config).toEqual(model.config);
    const out = full.forward(pixels);
    expectClose(out.lastHiddenState, "last_hidden_state");
    expectClose(out.poolerOutput, "pooler_output");
    tf.dispose([out.lastHiddenState, out.poolerOutput]);
    full.dispose();
  });

  it("loads the vision tower of a LLaVA checkpoint (vision_tower. prefix)", () => {
    const llava = ClipVisionModel.fromPretrained(fixturePath("hf/llava"));
    expect(llava.numParameters()).toBe(model.numParameters());
    llava.dispose();
  });

  it("raises a WeightLoadError listing a missing tensor", async () => {
    const dir = await writeCheckpoint("missing", readJsonFile(join(DIR, "config.json")), (t) => {
      delete t["vision_model.encoder.layers.1.mlp.fc2.bias"];
    });
    expect(() => ClipVisionModel.fromPretrained(dir)).toThrow(WeightLoadError);
    expect(() => ClipVisionModel.fromPretrained(dir)).toThrow(
      /missing 1 key\(s\): vision_model\.encoder\.layers\.1\.mlp\.fc2\.bias/,
    );
  });

  it("raises a WeightLoadError naming a wrong-shaped tensor with both shapes", async () => {
    const dir = await writeCheckpoint("wrong-shape", readJsonFile(join(DIR, "config.json")), (t) => {
      t["vision_model.embeddings.position_embedding.weight"] = {
        dtype: "float32",
        shape: [16, 64],
        data: new Float32Array(16 * 64),
      };
    });
    expect(() => ClipVisionModel.fromPretrained(dir)).toThrow(
      /vision_model\.embeddings\.position_embedding\.weight \(expected \[17,64\], found \[16,64\]\)/,
    );
  });

  it("raises a WeightLoadError for an unexpected vision tensor (a deeper checkpoint than its config)", async () => {
    const cfg = { ...readJsonFile(join(DIR, "config.json")), num_hidden_layers: 2 };
    const dir = await writeCheckpoint("deeper", cfg, () => {});
    expect(() => ClipVisionModel.fromPretrained(dir)).toThrow(
      /unexpected \d+ key\(s\): vision_model\.encoder\.layers\.2\./,
    );
  });
});
