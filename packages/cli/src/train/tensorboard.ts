// --report-to tensorboard: the run's log history as TensorBoard event files, written by TensorFlow's own
// writer — @tensorflow/tfjs-node's tf.node.summaryFileWriter (libtensorflow's, CRC-checked records) — an
// optional peer: it installs only where its native library can be downloaded. No other npm package writes
// event files properly, so without it this says how to get them instead of writing look-alikes.
import { join } from "node:path";
import type { LogEntry } from "@llava-ts/trainer";
import { UsageError } from "../args.js";

interface SummaryWriter {
  scalar(name: string, value: number, step: number): void;
  flush(): void;
}

type TfNode = { node: { summaryFileWriter(dir: string): SummaryWriter } };

/** The writer's package, or a UsageError saying how to get it (checked before training starts). */
export async function loadTensorBoard(): Promise<TfNode> {
  const name = "@tensorflow/tfjs-node";
  try {
    return (await import(/* @vite-ignore */ name)) as TfNode;
  } catch {
    throw new UsageError(
      "llava train: --report-to tensorboard needs @tensorflow/tfjs-node (its summaryFileWriter writes the event files): npm i @tensorflow/tfjs-node, or use --report-to jsonl (metrics.jsonl)",
      "--report-to",
    );
  }
}

/** Writes `<outputDir>/runs` (HF's default logging_dir name): train/* and eval/* scalars per logged step. */
export async function writeTensorBoardEvents(
  outputDir: string,
  history: readonly LogEntry[],
): Promise<string> {
  const tfn = await loadTensorBoard();
  const dir = join(outputDir, "runs");
  const writer = tfn.node.summaryFileWriter(dir);
  for (const e of history)
    for (const [k, v] of Object.entries(e))
      if (k !== "step" && k !== "epoch")
        writer.scalar(k.startsWith("eval_") ? `eval/${k.slice(5)}` : `train/${k}`, v, e.step);
  writer.flush();
  return dir;
}
