// llava eval on the tiny LLaVA: figures, files, and the batched generation against one prompt at a time.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createSampleProcessor, LlavaDataLoader, LlavaDataset } from "@llava-ts/datasets";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { runMain as run, useTinyFixture } from "../../test/tiny-llava.js";

const fx = useTinyFixture();

const readJsonl = (file: string) =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("llava eval", () => {
  const data = () => ["--model", fx.model, "--data", fx.data.chatJson, "--images", fx.data.imagesZip!];

  it("writes eval_results.json and one prediction per record, scored against the record's answer", async () => {
    const out = join(fx.root, "eval-a");
    const r = await run(["eval", ...data(), "--output-dir", out, "--max-new-tokens", "6"]);
    expect(r.code, r.err).toBe(0);
    const m = JSON.parse(readFileSync(join(out, "eval_results.json"), "utf8"));
    expect(Object.keys(m).sort()).toEqual(
      ["bleu4", "cider", "eval_loss", "eval_samples", "eval_skipped", "exact_match", "perplexity"].sort(),
    );
    expect(m.eval_samples).toBe(8);
    expect(m.perplexity).toBeCloseTo(Math.exp(m.eval_loss), 10);
    const preds = readJsonl(join(out, "predictions.jsonl"));
    expect(preds.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(preds.map((p) => p.reference)).toEqual(fx.data.records.map((rec) => rec.conversations[1].value));
    expect(preds.map((p) => p.prompt)).toEqual(fx.data.records.map((rec) => rec.conversations[0].value));
    for (const p of preds) expect(p.exact_match).toBe(p.prediction.trim() === p.reference.trim());
    expect(r.out).toContain(`8 records: eval_loss ${m.eval_loss.toFixed(4)}`);
  });

  it("gives each record the answer a batch of one gives it (left padding, mixed prompt lengths)", async () => {
    const a = join(fx.root, "eval-b8");
    const b = join(fx.root, "eval-b1");
    const common = [...data(), "--max-new-tokens", "5"];
    expect((await run(["eval", ...common, "--output-dir", a])).code).toBe(0);
    expect(
      (await run(["eval", ...common, "--output-dir", b, "--per-device-eval-batch-size", "1"])).code,
    ).toBe(0);
    const lengths = new Set(fx.data.records.map((rec) => rec.conversations[0].value.length));
    expect(lengths.size).toBeGreaterThan(1); // the prompts differ, so the batch of 8 is padded
    expect(readJsonl(join(a, "predictions.jsonl")).map((p) => p.prediction)).toEqual(
      readJsonl(join(b, "predictions.jsonl")).map((p) => p.prediction),
    );
  });

  it("eval_loss is HF's: the mean of the batches' losses weighted by their size", async () => {
    const r = await run(["eval", ...data(), "--loss-only", "--json", "--per-device-eval-batch-size", "3"]);
    expect(r.code, r.err).toBe(0);
    const m = JSON.parse(r.out);
    expect(m.exact_match).toBeUndefined();
    // Independently: batches of 3, 3, 2 in file order, each the model's mean loss over its labelled tokens.
    const model = LlavaForConditionalGeneration.fromPretrained(fx.model);
    const dataset = LlavaDataset.open({ file: fx.data.chatJson, images: fx.data.imagesZip });
    const loader = new LlavaDataLoader({
      dataset,
      processor: await createSampleProcessor({
        tokenizer: fx.model,
        imageProcessor: fx.model,
        llava: { imageSeqLength: model.config.image_seq_length },
      }),
      batchSize: 3,
      shuffle: false,
      collate: { padTokenId: model.config.pad_token_id! },
    });
    let sum = 0;
    const sizes: number[] = [];
    for await (const b of loader.epoch(0)) {
      const loss = tf.tidy(
        () =>
          model
            .forward({
              inputIds: tf.tensor2d(b.inputIds, [b.batchSize, b.seqLength], "int32"),
              attentionMask: b.attentionMask,
              labels: b.labels,
              pixelValues: tf.tensor4d(b.pixelValues, [...b.pixelShape]),
            })
            .loss!.dataSync()[0],
      );
      sum += loss * b.batchSize;
      sizes.push(b.batchSize);
    }
    await loader.close();
    dataset.close();
    model.dispose();
    expect(sizes).toEqual([3, 3, 2]);
    expect(m.eval_loss).toBeCloseTo(sum / 8, 5);
    expect(m.eval_samples).toBe(8);
  });

  it("names what is wrong", async () => {
    expect((await run(["eval", "--model", fx.model])).err).toContain("--data is required");
    const bad = await run(["eval", ...data(), "--image-mode", "stretch"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--image-mode must be one of crop, pad");
  });
});
