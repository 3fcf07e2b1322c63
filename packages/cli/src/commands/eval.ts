// llava eval: loss, perplexity and generation metrics of a model (and adapter) on a dataset.
import { type CommandSpec, Flags, helpText, parseFlags, UsageError } from "../args.js";
import { runEval } from "../eval/run-eval.js";
import type { Command } from "./command.js";
import { dataFlags, datasetSpec } from "./data-flags.js";
import { generationFlags, generationSettings } from "./generation-flags.js";
import { applyMaxHeap, maxHeapFlag } from "./heap-flag.js";

export const evalSpec: CommandSpec = {
  name: "eval",
  summary: "loss, perplexity, exact match, BLEU-4 and CIDEr-D on a dataset (with its predictions)",
  synopsis: "--model DIR [--adapter DIR] --data FILE [--images DIR|ZIP] [--output-dir DIR] [flags]",
  flags: {
    model: { type: "string", value: "DIR", help: "LLaVA folder", aliases: ["model-name-or-path"] },
    adapter: { type: "string", value: "DIR", help: "PEFT LoRA adapter folder to apply" },
    merged: { type: "boolean", help: "fold the adapter into the weights first" },
    ...dataFlags("evaluation data"),
    "per-device-eval-batch-size": {
      type: "string",
      value: "N",
      help: "records per forward pass and per generation batch",
      default: "8",
    },
    "output-dir": {
      type: "string",
      value: "DIR",
      help: "write eval_results.json and predictions.jsonl here",
    },
    "model-max-length": {
      type: "string",
      value: "N",
      help: "cut longer records to N tokens for the loss, as llava train does (default the tokenizer's model_max_length)",
    },
    "loss-only": { type: "boolean", help: "loss and perplexity only (no generation)" },
    "image-mode": { type: "string", value: "M", help: "crop | pad (default: the model folder's)" },
    json: { type: "boolean", help: "print the metrics as one JSON object" },
    ...generationFlags(128),
    ...maxHeapFlag,
  },
  notes:
    "Each record's last answer is generated from the turns before it and compared with the record's answer;\n" +
    "BLEU and CIDEr-D are computed as the COCO caption evaluation (pycocoevalcap) does, PTB tokenization\n" +
    "included. eval_loss is HF Trainer's (batch losses weighted by batch size); perplexity = exp(eval_loss).",
};

export const evalCommand: Command = {
  spec: evalSpec,
  async run(argv, io) {
    const values = parseFlags(evalSpec, argv);
    if (values.help) {
      io.stdout.write(helpText(evalSpec));
      return 0;
    }
    const f = new Flags("eval", values);
    applyMaxHeap(f);
    if (f.boolean("merged") && !f.has("adapter"))
      throw new UsageError("llava eval: --merged needs --adapter DIR", "--merged");
    await runEval(
      {
        model: f.requiredPath("model", "model folder"),
        adapter: f.existingPath("adapter", "adapter folder"),
        merged: f.boolean("merged"),
        data: datasetSpec(f),
        batchSize: f.int("per-device-eval-batch-size"),
        outputDir: f.string("output-dir"),
        lossOnly: f.boolean("loss-only"),
        imageMode: f.choice("image-mode", ["crop", "pad"] as const),
        modelMaxLength: f.int("model-max-length"),
        json: f.boolean("json"),
        generation: generationSettings(f),
      },
      io,
    );
    return 0;
  },
};
