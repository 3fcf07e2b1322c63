// Batches for a training loop: this rank's shard of a seeded epoch order, processed ahead of the consumer
// in worker threads through a bounded queue. Batch order depends only on (seed, epoch, rank), never on
// worker timing; the loader measures how long the consumer waited.
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { ConfigError, DataError } from "@llava-ts/core";
import type { CollateOptions, LlavaBatch } from "./collate.js";
import { createSampleProcessor, type ProcessorSpec } from "./create-sample-processor.js";
import { EpochSampler, type SamplerOptions } from "./epoch-sampler.js";
import type { LlavaDataset } from "./llava-dataset.js";
import { processBatch } from "./process-batch.js";
import type { SampleProcessor } from "./sample-processor.js";
import type { SkipSummary } from "./skip-report.js";
import { WorkerPool } from "./worker-pool.js";
import { loaderWorkerUrl } from "./worker-url.js";

export interface LoaderOptions extends Omit<SamplerOptions, "length"> {
  dataset: LlavaDataset;
  /** A spec (required with workers: each thread builds its own), or a ready processor for numWorkers 0. */
  processor: ProcessorSpec | SampleProcessor;
  batchSize: number;
  collate: CollateOptions;
  dropLast?: boolean;
  /** Threads decoding and preprocessing; 0 = in the calling thread. */
  numWorkers?: number;
  /** Batches processed ahead of the consumer (bounded queue); default 2 × numWorkers, 1 without workers. */
  prefetch?: number;
}

export interface LoaderStats {
  batches: number;
  /** Time the consumer spent waiting for batches, and the wall time of the epochs so far. */
  waitMs: number;
  elapsedMs: number;
  waitFraction: number;
  /** Wait for each epoch's first batch (worker start-up, cold caches) — included in waitMs. */
  firstBatchWaitMs: number;
  skipped: SkipSummary;
  /** Distinct records cut to the processor's model_max_length (kept, shorter), and which. */
  truncated: number;
  truncatedRecords: number[];
}

/**
 * Most decoding threads a loader starts: 4 per core. More only queue for the cores (each holds its own
 * sharp and processor); a thousand of them exhaust memory before the first batch.
 */
export function maxLoaderWorkers(): number {
  return 4 * availableParallelism();
}

function isSpec(p: ProcessorSpec | SampleProcessor): p is ProcessorSpec {
  return !("text" in p && "image" in p);
}

export class LlavaDataLoader {
  readonly sampler: EpochSampler;
  private pool?: Promise<WorkerPool>;
  private local?: Promise<SampleProcessor>;
  private batches = 0;
  private waitMs = 0;
  private elapsedMs = 0;
  private firstBatchWaitMs = 0;
  private readonly truncated = new Set<number>();

  constructor(readonly options: LoaderOptions) {
    const { dataset, numWorkers = 0 } = options;
    this.sampler = new EpochSampler({ ...options, length: dataset.length });
    if (!Number.isInteger(numWorkers) || numWorkers < 0)
      throw new RangeError(`numWorkers must be ≥ 0, got ${numWorkers}`);
    if (numWorkers > maxLoaderWorkers())
      throw new ConfigError(
        `numWorkers ${numWorkers} is more than ${maxLoaderWorkers()} (4 per core on this machine)`,
        "numWorkers",
      );
    if (numWorkers > 0 && !isSpec(options.processor))
      throw new TypeError(
        "numWorkers > 0 needs a ProcessorSpec (plain data each worker can build its processor from)",
      );
  }

  /** Rows per batch on this rank (the last may have fewer, or records skipped). */
  get batchSize(): number {
    return this.options.batchSize;
  }

  /** The shuffling seed: with the batch size, what a saved data position means. */
  get seed(): number {
    return this.sampler.seed;
  }

  /** Batches per epoch for this rank (the same on every rank). */
  get length(): number {
    const n = this.sampler.size;
    const b = this.options.batchSize;
    return this.options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** This rank's batches of `epoch`, from batch `startBatch` on (for exact resume). */
  async *epoch(epoch: number, startBatch = 0): AsyncGenerator<LlavaBatch> {
    const { batchSize, dropLast, numWorkers = 0 } = this.options;
    const slots = this.sampler.batches(epoch, batchSize, dropLast).slice(startBatch);
    const prefetch = Math.max(1, this.options.prefetch ?? (numWorkers > 0 ? 2 * numWorkers : 1));
    const pending: Promise<LlavaBatch>[] = [];
    let next = 0;
    const fill = () => {
      while (next < slots.length && pending.length < prefetch) {
        const p = this.runSlot(Array.from(slots[next++]));
        p.catch(() => {}); // handled when awaited; avoids unhandled rejections if the consumer stops early
        pending.push(p);
      }
    };
    let since = performance.now();
    try {
      for (let k = 0; k < slots.length; k++) {
        fill();
        const t0 = performance.now();
        const batch = await pending.shift()!;
        const waited = performance.now() - t0;
        this.waitMs += waited;
        if (k === 0) this.firstBatchWaitMs += waited;
        this.applyPolicy(batch);
        for (const t of batch.truncated) this.truncated.add(t.record);
        this.batches++;
        fill(); // keep the workers busy while the consumer trains
        this.elapsedMs += performance.now() - since;
        since = performance.now();
        yield batch;
      }
    } finally {
      this.elapsedMs += performance.now() - since;
      if (pending.length > 0) (await this.pool)?.clearQueue();
    }
  }

  stats(): LoaderStats {
    return {
      batches: this.batches,
      waitMs: this.waitMs,
      elapsedMs: this.elapsedMs,
      waitFraction: this.elapsedMs > 0 ? this.waitMs / this.elapsedMs : 0,
      firstBatchWaitMs: this.firstBatchWaitMs,
      skipped: this.options.dataset.report.summary(),
      truncated: this.truncated.size,
      truncatedRecords: [...this.truncated].sort((a, b) => a - b),
    };
  }

  /** Terminates the workers; safe to call twice. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await (await pool).close();
  }

  private async runSlot(indices: number[]): Promise<LlavaBatch> {
    const { dataset, numWorkers = 0, processor, collate } = this.options;
    if (numWorkers === 0) {
      this.local ??= isSpec(processor) ? createSampleProcessor(processor) : Promise.resolve(processor);
      return processBatch(dataset, indices, await this.local, collate);
    }
    this.pool ??= loaderWorkerUrl().then(
      (url) =>
        new WorkerPool(url, numWorkers, {
          type: "init",
          dataset: dataset.spec,
          offsets: dataset.offsets,
          processor: processor as ProcessorSpec,
          collate,
        }),
    );
    return (await this.pool).run(indices);
  }

  /** raise: the first bad record (in batch order) becomes the consumer's DataError; skip: count them all. */
  private applyPolicy(batch: LlavaBatch): void {
    const { dataset } = this.options;
    if (batch.skipped.length === 0) return;
    if (dataset.onError === "raise") {
      const s = batch.skipped[0];
      // The worker's message already names the file and record; keep reason and index as fields.
      throw new DataError(stripPrefix(s.message, dataset.file, s.record), dataset.file, s.record, s.reason);
    }
    for (const s of batch.skipped) dataset.report.add(s);
  }
}

function stripPrefix(message: string, file: string, record: number): string {
  const prefix = `${file} record ${record}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
