// llava train: the tutorial's run.py + run_zero2.sh. Flags keep HF TrainingArguments' names and meaning
// (--learning_rate and --learning-rate both work); --ranks N runs ZeRO-2 over N worker threads.
import { availableParallelism } from "node:os";
import { maxLoaderWorkers } from "@llava-ts/datasets";
import { STRATEGIES, type Strategy } from "@llava-ts/trainer";
import { type CommandSpec, Flags, helpText, parseFlags, UsageError } from "../args.js";
import type { CliIO } from "../io.js";
import { prepareOutputDir } from "../output-dir.js";
import { readDeepSpeedConfig } from "../train/deepspeed-config.js";
import { runTrain, type TrainOptions } from "../train/run-train.js";
import type { Command } from "./command.js";
import { dataFiles, dataFlags, RECORD_FORMATS } from "./data-flags.js";
import { maxHeapFlag } from "./heap-flag.js";

export const trainSpec: CommandSpec = {
  name: "train",
  summary: "train a LLaVA (use_lora, freeze_vision, none, projector_only), on one rank or with ZeRO-2",
  synopsis: "--model DIR --data FILE --images DIR|ZIP --output-dir DIR [--train-type T] [flags]",
  flags: {
    model: {
      type: "string",
      value: "DIR",
      help: "LLaVA folder to start from (llava build output)",
      aliases: ["model-name-or-path"],
    },
    ...dataFlags("training data"),
    "model-max-length": {
      type: "string",
      value: "N",
      help: "cut longer samples to N tokens, counted in the report (default the tokenizer's model_max_length)",
    },
    "train-type": {
      type: "string",
      value: "T",
      help: `strategy: ${STRATEGIES.join(" | ")}`,
      default: "use_lora",
    },
    "output-dir": {
      type: "string",
      value: "DIR",
      help: "checkpoints, metrics.jsonl, loss-curve.png and the final model/adapter",
    },
    ranks: {
      type: "string",
      value: "N",
      help: "ZeRO-2 ranks (worker threads, one core each on wasm; at most one per core)",
      default: "1",
    },
    launch: {
      type: "string",
      value: "HOW",
      help: "ZeRO-2 ranks as threads (shared memory) | processes (TCP; one per GPU with tfjs-node-gpu, pinned by CUDA_VISIBLE_DEVICES)",
      default: "threads",
    },
    "ddp-timeout": {
      type: "string",
      value: "SEC",
      help: "ZeRO-2: seconds a rank waits for the others before the job fails, naming the rank that stopped answering",
      default: "1800",
    },
    "learning-rate": { type: "string", value: "LR", help: "AdamW peak learning rate", default: "1e-4" },
    "weight-decay": {
      type: "string",
      value: "WD",
      help: "AdamW decoupled weight decay (not on biases/norms)",
      default: "0",
    },
    "adam-beta1": { type: "string", value: "B1", help: "AdamW beta1", default: "0.9" },
    "adam-beta2": { type: "string", value: "B2", help: "AdamW beta2", default: "0.999" },
    "adam-epsilon": { type: "string", value: "EPS", help: "AdamW epsilon", default: "1e-8" },
    "lr-scheduler-type": {
      type: "string",
      value: "S",
      help: "constant | linear | cosine",
      default: "linear",
    },
    "warmup-ratio": { type: "string", value: "R", help: "warmup as a fraction of the steps", default: "0" },
    "warmup-steps": { type: "string", value: "N", help: "warmup steps (wins over --warmup-ratio)" },
    "max-grad-norm": {
      type: "string",
      value: "X",
      help: "clip the global gradient norm (0 = off)",
      default: "1",
    },
    "num-train-epochs": { type: "string", value: "N", help: "passes over the data", default: "1" },
    "max-steps": { type: "string", value: "N", help: "optimizer steps (wins over epochs)" },
    "per-device-train-batch-size": { type: "string", value: "N", help: "micro-batch per rank", default: "8" },
    "gradient-accumulation-steps": {
      type: "string",
      value: "N",
      help: "micro-batches per optimizer step",
      default: "1",
    },
    "dataloader-num-workers": {
      type: "string",
      value: "N",
      help: "image decoding threads per rank",
      default: "0",
    },
    "dataloader-pin-memory": {
      type: "boolean",
      help: "accepted for run_zero2.sh (true or false); no effect: there is no GPU copy to pin memory for",
    },
    "dataloader-persistent-workers": {
      type: "boolean",
      help: "accepted for run_zero2.sh (true or false); the decoding threads live for the whole run anyway",
    },
    "save-strategy": { type: "string", value: "S", help: "steps | epoch | no", default: "steps" },
    "save-steps": {
      type: "string",
      value: "N",
      help: "checkpoint every N steps (--save-strategy steps)",
      default: "500",
    },
    "save-total-limit": { type: "string", value: "N", help: "keep the newest N checkpoints" },
    "logging-steps": { type: "string", value: "N", help: "log every N steps", default: "1" },
    seed: { type: "string", value: "N", help: "seed (data order, LoRA init, dropout)", default: "42" },
    "resume-from-checkpoint": {
      type: "string",
      value: "DIR",
      help: 'a checkpoint folder, or "latest" in --output-dir',
    },
    "lora-r": { type: "string", value: "N", help: "LoRA rank", default: "8" },
    "lora-alpha": { type: "string", value: "N", help: "LoRA alpha (scaling alpha / r)", default: "16" },
    "lora-dropout": { type: "string", value: "P", help: "LoRA dropout", default: "0.05" },
    "lora-target-modules": {
      type: "string",
      value: "LIST",
      help: "comma-separated suffixes, or a regex",
      default: "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
    },
    "freeze-projector": { type: "boolean", help: "use_lora: keep the projector frozen (default: it trains)" },
    "gradient-checkpointing": {
      type: "boolean",
      help: "recompute each layer in the backward pass instead of keeping its activations (less heap, ~1/3 more compute)",
    },
    bf16: {
      type: "boolean",
      help: "hold the frozen weights in bfloat16 (2 bytes a value, outside the heap); compute stays float32",
    },
    fp16: {
      type: "boolean",
      help: "accepted as false (run_zero2.sh's --fp16 false); no float16 here: --bf16 is what maps",
    },
    ...maxHeapFlag,
    "eval-data": {
      type: "string",
      value: "FILE|DIR",
      help: "evaluation data (any format or folder --data takes)",
    },
    "eval-images": { type: "string", value: "DIR|ZIP", help: "its images (default: --images)" },
    "eval-image-prefix": {
      type: "string",
      value: "PATH",
      help: "prefix of its image names (default: --image-prefix)",
    },
    "eval-strategy": {
      type: "string",
      value: "S",
      help: "evaluate every --eval-steps steps | each epoch | no (then once, after training)",
      default: "no",
      aliases: ["evaluation-strategy"],
    },
    "eval-steps": {
      type: "string",
      value: "N",
      help: "--eval-strategy steps: every N steps (default --logging-steps)",
    },
    "per-device-eval-batch-size": {
      type: "string",
      value: "N",
      help: "evaluation batch per rank",
      default: "8",
    },
    "load-best-model-at-end": {
      type: "boolean",
      help: "checkpoint each improving evaluation; end with the best",
    },
    "metric-for-best-model": {
      type: "string",
      value: "M",
      help: "eval_loss (lower is better)",
      default: "eval_loss",
    },
    "early-stopping-patience": {
      type: "string",
      value: "N",
      help: "stop after N evaluations without improvement",
    },
    deepspeed: {
      type: "string",
      value: "FILE",
      help: "a DeepSpeed config: ZeRO-2, bucket size, clipping, batch sizes, AdamW and warmup are read",
    },
    "report-to": {
      type: "string",
      value: "R",
      help: "none | jsonl | tensorboard (metrics.jsonl is always written with --output-dir)",
      default: "jsonl",
    },
    "remove-unused-columns": {
      type: "boolean",
      help: "accepted for run_zero2.sh (true or false); no effect: the collator builds the model's inputs itself",
    },
  },
  notes:
    "Without --output-dir nothing is written. The final model (or adapter, for use_lora) goes to --output-dir;\n" +
    "checkpoints to --output-dir/checkpoint-<step>. With --ranks N > 1 the global batch is N × the per-device\n" +
    "batch, as with DeepSpeed.",
};

export const trainCommand: Command = {
  spec: trainSpec,
  async run(argv, io) {
    const values = parseFlags(trainSpec, argv);
    if (values.help) {
      io.stdout.write(helpText(trainSpec));
      return 0;
    }
    const o = trainOptionsFromFlags(new Flags("train", values), io);
    if (o.resumeFrom === "latest" && !o.outputDir)
      throw new UsageError(
        "llava train: --resume-from-checkpoint latest looks in --output-dir; give --output-dir (or a checkpoint folder)",
        "--resume-from-checkpoint",
      );
    if (o.outputDir)
      prepareOutputDir("train", "--output-dir", o.outputDir, [
        { flag: "--model", path: o.model, holds: "the model being trained from" },
      ]);
    await runTrain(o, io);
    return 0;
  },
};

export function trainOptionsFromFlags(f: Flags, io?: CliIO): TrainOptions {
  applyDeepSpeed(f, io);
  if (f.boolean("fp16"))
    throw new UsageError(
      "llava train: --fp16: no float16 here (TensorFlow.js computes in float32); --bf16 holds frozen weights in bfloat16",
      "--fp16",
    );
  // One core per rank: more ranks only share the cores, each with its own copy of the model.
  const ranks = f.int("ranks", 1, availableParallelism())!;
  const format = f.choice("format", RECORD_FORMATS);
  const saveStrategy = f.choice("save-strategy", ["steps", "epoch", "no"] as const)!;
  const targets = f.string("lora-target-modules")!;
  const model = f.requiredPath("model", "model folder");
  const { file: data, images } = dataFiles(f);
  return {
    model,
    data,
    images,
    imagePrefix: f.string("image-prefix"),
    format,
    onError: f.choice("on-error", ["raise", "skip"] as const),
    modelMaxLength: f.int("model-max-length"),
    strategy: f.choice("train-type", STRATEGIES) as Strategy,
    outputDir: f.string("output-dir"),
    ranks,
    launch: f.choice("launch", ["threads", "processes"] as const)!,
    // In ms it must fit a Node timer (2^31 − 1 ms, about 24 days).
    ddpTimeout: f.int("ddp-timeout", 1, 2_147_483)!,
    learningRate: f.number("learning-rate", { min: 0 })!,
    weightDecay: f.number("weight-decay", { min: 0 })!,
    // torch's AdamW: 0 ≤ β < 1, ε ≥ 0.
    betas: [f.number("adam-beta1", { min: 0, below: 1 })!, f.number("adam-beta2", { min: 0, below: 1 })!],
    eps: f.number("adam-epsilon", { min: 0 })!,
    scheduler: f.choice("lr-scheduler-type", ["constant", "linear", "cosine"] as const)!,
    warmupRatio: f.number("warmup-ratio", { min: 0, max: 1 })!, // HF: "warmup_ratio must lie in range [0,1]"
    warmupSteps: f.int("warmup-steps", 0),
    maxGradNorm: f.number("max-grad-norm", { min: 0 })!,
    epochs: f.int("num-train-epochs")!,
    // HF's default max_steps is -1: not set, the epochs decide.
    maxSteps: f.string("max-steps") === "-1" ? undefined : f.int("max-steps"),
    batchSize: f.int("per-device-train-batch-size")!,
    gradientAccumulationSteps: f.int("gradient-accumulation-steps")!,
    numWorkers: f.int("dataloader-num-workers", 0, maxLoaderWorkers())!,
    saveStrategy,
    saveSteps: f.int("save-steps")!,
    saveTotalLimit: f.int("save-total-limit"),
    loggingSteps: f.int("logging-steps")!,
    seed: f.seed()!,
    resumeFrom: f.string("resume-from-checkpoint"),
    lora: {
      r: f.int("lora-r")!,
      alpha: f.number("lora-alpha", { above: 0 })!,
      dropout: f.number("lora-dropout", { min: 0, below: 1 })!, // PEFT: [0, 1)
      targetModules: /[\\^$|()[\]*+?]/.test(targets)
        ? targets
        : targets
            .split(",")
            .map((t) => t.trim())
            .filter(Boolean),
      freezeProjector: f.boolean("freeze-projector"),
    },
    gradientCheckpointing: f.boolean("gradient-checkpointing"),
    bf16: f.boolean("bf16"),
    maxHeap: f.string("max-heap"),
    eval: evalOptions(f),
    reportTo: f.choice("report-to", ["none", "jsonl", "tensorboard"] as const),
    bucketSize: f.int("deepspeed-bucket-size"),
  };
}

/** The evaluation flags (HF's eval_strategy, eval_steps, load_best_model_at_end, EarlyStoppingCallback). */
function evalOptions(f: Flags): TrainOptions["eval"] {
  const strategy = f.choice("eval-strategy", ["no", "steps", "epoch"] as const)!;
  const given = f.existingPath("eval-data", "evaluation data file or folder");
  const patience = f.int("early-stopping-patience");
  const best = f.boolean("load-best-model-at-end");
  f.choice("metric-for-best-model", ["eval_loss", "loss"] as const);
  if (given === undefined) {
    for (const flag of ["load-best-model-at-end", "early-stopping-patience", "eval-steps"] as const)
      if (f.values[flag] !== undefined && f.values[flag] !== false)
        throw new UsageError(`llava train: --${flag} needs --eval-data FILE`, `--${flag}`);
    if (strategy !== "no")
      throw new UsageError("llava train: --eval-strategy needs --eval-data FILE", "--eval-strategy");
    return undefined;
  }
  if ((best || patience !== undefined) && strategy === "no")
    throw new UsageError(
      `llava train: --${best ? "load-best-model-at-end" : "early-stopping-patience"} needs --eval-strategy steps or epoch`,
      "--eval-strategy",
    );
  const { file, images } = dataFiles(f, "eval-data", "eval-images");
  return {
    data: file,
    images: images ?? f.string("images"),
    imagePrefix: f.string("eval-image-prefix") ?? f.string("image-prefix"),
    strategy,
    steps: f.int("eval-steps") ?? f.int("logging-steps"),
    batchSize: f.int("per-device-eval-batch-size")!,
    loadBestModelAtEnd: best,
    earlyStoppingPatience: patience,
  };
}

/**
 * --deepspeed FILE: its values replace the flags' defaults; one that contradicts a flag set on the command
 * line is an error naming both; what has no counterpart is named in a warning.
 */
function applyDeepSpeed(f: Flags, io?: CliIO): void {
  const file = f.existingPath("deepspeed", "DeepSpeed config");
  if (file === undefined) return;
  const ds = readDeepSpeedConfig(file);
  for (const [flag, v] of Object.entries(ds.values)) {
    if (flag === "train-batch-size") continue;
    const given = f.values[flag];
    const spec = trainSpec.flags[flag];
    if (given !== undefined && given !== spec.default && Number(given) !== v)
      throw new UsageError(
        `llava train: --${flag} ${given} contradicts ${file} (${v}); set one of them, or "auto" in the config`,
        `--${flag}`,
      );
    f.values[flag] = String(v);
  }
  for (const [flag, v] of Object.entries(ds.switches)) {
    const given = f.values[flag];
    if (given !== undefined && given !== v)
      throw new UsageError(
        `llava train: --${flag} ${given} contradicts ${file} (${v}); set one of them, or "auto" in the config`,
        `--${flag}`,
      );
    f.values[flag] = v;
  }
  const global = ds.values["train-batch-size"];
  const product =
    f.int("per-device-train-batch-size")! * f.int("gradient-accumulation-steps")! * f.int("ranks")!;
  if (global !== undefined && global !== product)
    throw new UsageError(
      `llava train: ${file}: train_batch_size ${global} ≠ per-device batch × accumulation × ranks = ${product}`,
      "--deepspeed",
    );
  if (ds.bucketSize !== undefined) f.values["deepspeed-bucket-size"] = String(ds.bucketSize);
  for (const w of ds.warnings) io?.stderr.write(`llava train: --deepspeed ${file}: ${w}\n`);
}
