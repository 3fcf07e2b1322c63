// llava train with evaluation as a person types it: eval every step on a held-out set, early stopping,
// the best model loaded at the end and saved — and `llava eval` of what was saved gives the best eval_loss.
// Also --deepspeed and --report-to, as run_zero2.sh passes them.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSyntheticCaptions, maxLoaderWorkers } from "@llava-ts/datasets";
import { beforeAll, describe, expect, it } from "vitest";
import { captureIO, runMain as run, useTinyFixture } from "../../test/tiny-llava.js";
import { Flags, parseFlags } from "../args.js";
import { trainOptionsFromFlags, trainSpec } from "../commands/train.js";

const fx = useTinyFixture();
let heldOut: string;

beforeAll(async () => {
  // Held-out records in the other caption style: what training on English does to them is the eval loss.
  const set = await generateSyntheticCaptions({
    out: join(fx.root, "held-out"),
    count: 6,
    size: 28,
    seed: 9,
    style: "zh",
  });
  heldOut = set.chatJson;
  // Its images live in its own folder; the zip is passed with --eval-images.
  expect(existsSync(set.imagesZip!)).toBe(true);
});

const common = () => ["--model", fx.model, "--data", fx.data.chatJson, "--images", fx.data.imagesZip!];

describe("llava train with evaluation", () => {
  it("evaluates each step, stops early, loads the best model, and llava eval of it gives the best eval_loss", async () => {
    const out = join(fx.root, "train-eval");
    const evalImages = join(fx.root, "held-out", "images.zip");
    const r = await run([
      "train",
      ...common(),
      "--train-type",
      "freeze_vision",
      "--output-dir",
      out,
      "--max-steps",
      "40",
      "--learning-rate",
      "1e-2",
      "--per-device-train-batch-size",
      "4",
      "--lr-scheduler-type",
      "constant",
      "--eval-data",
      heldOut,
      "--eval-images",
      evalImages,
      "--eval-strategy",
      "steps",
      "--eval-steps",
      "1",
      "--per-device-eval-batch-size",
      "3",
      "--load-best-model-at-end",
      "--early-stopping-patience",
      "2",
      "--save-strategy",
      "steps",
      "--save-steps",
      "100",
      "--save-total-limit",
      "1",
      "--seed",
      "3",
    ]);
    expect(r.code, r.err).toBe(0);
    // (The trainer's own lines — "early stopping at step …", "loaded the best model …" — go to the
    // progress stream, stderr.)
    const best = /best eval_loss (\d+\.\d+) at step (\d+)/.exec(r.out);
    expect(best, r.out).not.toBeNull();
    const bestStep = Number(best![2]);
    // Every step's eval loss is in metrics.jsonl and on the curve; the best one is the minimum.
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const evals = metrics.filter((m) => m.eval_loss !== undefined);
    const stopStep = evals.at(-1).step;
    expect(stopStep).toBeLessThan(40); // stopped early…
    expect(stopStep - bestStep).toBe(2); // …after 2 evaluations without improvement
    const lowest = Math.min(...evals.map((m) => m.eval_loss));
    expect(evals.find((m) => m.step === bestStep).eval_loss).toBe(lowest);
    expect(best![1]).toBe(lowest.toFixed(4));
    expect(existsSync(join(out, `checkpoint-${bestStep}`))).toBe(true); // kept despite --save-total-limit 1
    expect(readFileSync(join(out, "loss-curve.svg"), "utf8")).toContain("eval loss");
    expect(evals.map((m) => m.step)).toEqual(Array.from({ length: stopStep }, (_, i) => i + 1));
    expect(r.out).toContain(`evaluation of the final model: eval_loss ${lowest.toFixed(4)} on 6 records`);
    // The saved model is the best one: llava eval on the held-out set gives its eval loss.
    const e = await run([
      "eval",
      "--model",
      out,
      "--data",
      heldOut,
      "--images",
      evalImages,
      "--loss-only",
      "--json",
      "--per-device-eval-batch-size",
      "3",
    ]);
    expect(e.code, e.err).toBe(0);
    expect(JSON.parse(e.out).eval_loss).toBeCloseTo(lowest, 5);
  });

  it("--model-max-length cuts the eval records as it cuts the training ones (and llava eval's)", async () => {
    const out = join(fx.root, "train-eval-cut");
    const evalImages = join(fx.root, "held-out", "images.zip");
    const length = "36";
    const r = await run([
      "train",
      ...common(),
      "--train-type",
      "freeze_vision",
      "--output-dir",
      out,
      "--max-steps",
      "1",
      "--save-strategy",
      "no",
      "--eval-data",
      heldOut,
      "--eval-images",
      evalImages,
      "--eval-strategy",
      "steps",
      "--eval-steps",
      "1",
      "--model-max-length",
      length,
    ]);
    expect(r.code, r.err).toBe(0);
    const trained = /evaluation of the final model: eval_loss (\d+\.\d+)/.exec(r.out)?.[1];
    expect(trained, r.out).toBeDefined();
    const llavaEval = async (...extra: string[]) => {
      const e = await run([
        "eval",
        "--model",
        out,
        "--data",
        heldOut,
        "--images",
        evalImages,
        "--loss-only",
        "--json",
        ...extra,
      ]);
      expect(e.code, e.err).toBe(0);
      return JSON.parse(e.out).eval_loss as number;
    };
    const cut = await llavaEval("--model-max-length", length);
    const whole = await llavaEval();
    console.log(`eval_loss: train ${trained}, llava eval cut ${cut}, whole ${whole}`);
    expect(cut.toFixed(4)).toBe(trained);
    expect(Math.abs(whole - cut)).toBeGreaterThan(1e-3);
  });

  it("names evaluation flags that need --eval-data or an eval strategy", async () => {
    expect((await run(["train", ...common(), "--load-best-model-at-end"])).err).toContain(
      "--load-best-model-at-end needs --eval-data FILE",
    );
    const noStrategy = await run([
      "train",
      ...common(),
      "--eval-data",
      heldOut,
      "--early-stopping-patience",
      "2",
    ]);
    expect(noStrategy.err).toContain("--early-stopping-patience needs --eval-strategy steps or epoch");
  });
});

/** llava train's options from a command line, and its warnings. */
function options(argv: string[]) {
  const io = captureIO();
  return { o: trainOptionsFromFlags(new Flags("train", parseFlags(trainSpec, argv)), io), err: io.err() };
}

describe("llava train with run_zero2.sh's command line", () => {
  it("takes it as written: the data folder, --fp16 false, the dataloader switches, the DeepSpeed config", async () => {
    // The tutorial's data_path: a folder with chat.json and the images in images_dl/.
    const dir = join(fx.root, "LLaVA-CC3M-Pretrain-595K");
    mkdirSync(dir);
    cpSync(fx.data.chatJson, join(dir, "chat.json"));
    cpSync(fx.data.imagesDir!, join(dir, "images_dl"), { recursive: true });
    const ds = join(fx.root, "ds_zero2_no_offload.json");
    writeFileSync(
      ds,
      JSON.stringify({
        bf16: { enabled: "auto" },
        fp16: { enabled: "auto" },
        train_micro_batch_size_per_gpu: "auto",
        train_batch_size: "auto",
        gradient_accumulation_steps: "auto",
        zero_optimization: { stage: 2, contiguous_gradients: true, reduce_bucket_size: "auto" },
      }),
    );
    const out = join(fx.root, "output_model_user_lora_0705");
    // The script asks for 10 decoding threads; llava-ts allows 4 per core.
    const workers = String(Math.min(10, maxLoaderWorkers()));
    // run_zero2.sh's lines after `deepspeed --include localhost:4,5,6,7 run.py` (that part is --ranks N).
    const script = [
      ...["--deepspeed", ds, "--model_name_or_path", fx.model, "--train_type", "use_lora"],
      ...["--data_path", dir, "--remove_unused_columns", "false", "--bf16", "true", "--fp16", "false"],
      ...["--dataloader_pin_memory", "True", "--dataloader_num_workers", workers],
      ...["--dataloader_persistent_workers", "True", "--output_dir", out, "--num_train_epochs", "10"],
      ...["--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "1"],
      ...["--gradient_accumulation_steps", "8", "--evaluation_strategy", "no", "--save_strategy", "epoch"],
      ...["--save_total_limit", "3", "--report_to", "tensorboard", "--learning_rate", "4e-4"],
      ...["--logging_steps", "10"],
    ];
    const { o, err } = options(script);
    expect(err).toBe("");
    expect(o).toMatchObject({
      model: fx.model,
      data: join(dir, "chat.json"),
      images: join(dir, "images_dl"),
      strategy: "use_lora",
      bf16: true,
      numWorkers: Number(workers),
      outputDir: out,
      epochs: 10,
      batchSize: 4,
      gradientAccumulationSteps: 8,
      saveStrategy: "epoch",
      saveTotalLimit: 3,
      reportTo: "tensorboard",
      learningRate: 4e-4,
      loggingSteps: 10,
    });
    expect(o.eval).toBeUndefined();
    expect(() => options([...script, "--fp16", "true"])).toThrow(/--fp16: no float16 here/);
    expect(() => options(["--model", fx.model, "--data", fx.root])).toThrow(
      `--data ${fx.root} is a folder without chat.json`,
    );
    // --eval-data takes such a folder too.
    expect(options(["--model", fx.model, "--data", dir, "--eval-data", dir]).o.eval).toMatchObject({
      data: join(dir, "chat.json"),
      images: join(dir, "images_dl"),
    });
    // And the folder trains, its images found in images_dl/.
    const r = await run([
      "train",
      "--model",
      fx.model,
      "--data",
      dir,
      "--max-steps",
      "1",
      "--save-strategy",
      "no",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`on ${join(dir, "chat.json")}`);
  });
});

describe("llava train --deepspeed and --report-to", () => {
  it("reads what maps from a DeepSpeed config, names the rest, and refuses contradictions", async () => {
    const ds = join(fx.root, "ds_zero2.json");
    writeFileSync(
      ds,
      JSON.stringify({
        train_micro_batch_size_per_gpu: 2,
        gradient_accumulation_steps: "auto",
        train_batch_size: "auto",
        gradient_clipping: 0.5,
        zero_optimization: {
          stage: 2,
          reduce_bucket_size: 5e7,
          contiguous_gradients: true,
          overlap_comm: true,
          offload_optimizer: { device: "cpu" },
        },
        bf16: { enabled: "auto" },
      }),
    );
    const out = join(fx.root, "train-ds");
    const r = await run([
      "train",
      ...common(),
      "--deepspeed",
      ds,
      "--output-dir",
      out,
      "--max-steps",
      "1",
      "--save-strategy",
      "no",
      "--remove_unused_columns",
      "false",
      "--report_to",
      "jsonl",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("zero_optimization.overlap_comm = true: no counterpart in llava-ts, not used");
    expect(r.err).toContain(
      'zero_optimization.offload_optimizer.device = "cpu": no counterpart in llava-ts, not used',
    );
    expect(r.err).not.toContain("gradient_clipping");
    const metrics = JSON.parse(readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n")[0]);
    expect(metrics.grad_norm).toBeGreaterThan(0);
    const clash = await run(["train", ...common(), "--deepspeed", ds, "--max-grad-norm", "2"]);
    expect(clash.err).toContain(`--max-grad-norm 2 contradicts ${ds} (0.5)`);
    writeFileSync(
      ds,
      JSON.stringify({
        train_micro_batch_size_per_gpu: 2,
        gradient_accumulation_steps: 2,
        train_batch_size: 8,
      }),
    );
    expect((await run(["train", ...common(), "--deepspeed", ds])).err).toContain(
      "train_batch_size 8 ≠ per-device batch × accumulation × ranks = 4",
    );
  });

  it("maps bf16.enabled onto --bf16, and takes run_zero2.sh's switch values", async () => {
    const ds = join(fx.root, "ds_bf16.json");
    writeFileSync(ds, JSON.stringify({ bf16: { enabled: true }, fp16: { enabled: true } }));
    const { o, err } = options([...common(), "--deepspeed", ds]);
    expect(o.bf16).toBe(true);
    expect(err).toContain("fp16.enabled = true: no float16 here");
    expect(() => options([...common(), "--deepspeed", ds, "--bf16", "false"])).toThrow(
      `--bf16 false contradicts ${ds} (true)`,
    );
    const copied = options([
      ...common(),
      "--bf16",
      "true",
      "--gradient_checkpointing",
      "True",
      "--remove_unused_columns",
      "false",
    ]).o;
    expect([copied.bf16, copied.gradientCheckpointing]).toEqual([true, true]);
    expect(options(common()).o.bf16).toBe(false);
  });

  it("--report-to tensorboard says what it needs before training", async () => {
    const r = await run([
      "train",
      ...common(),
      "--report-to",
      "tensorboard",
      "--output-dir",
      join(fx.root, "tb"),
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--report-to tensorboard needs @tensorflow/tfjs-node");
    expect(existsSync(join(fx.root, "tb", "metrics.jsonl"))).toBe(false);
  });
});
