// Counts every record skipped under onError: "skip", by reason, so nothing is dropped silently.
import type { DataError } from "@llava-ts/core";

// The reasons this package assigns; the processor adds its own (no_answer, bad_turn_order, image_in_answer…).
export const SKIP_REASONS = [
  "malformed_record",
  "malformed_conversation",
  "empty_conversation",
  "unknown_role",
  "image_token_mismatch",
  "missing_image",
  "unsafe_path",
  "undecodable_image",
  "image_too_large",
  "processing_failed",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface SkippedRecord {
  record: number;
  reason: string;
  message: string;
}

export interface SkipSummary {
  total: number;
  byReason: Record<string, number>;
  /** Up to `examplesPerReason` messages per reason. */
  examples: SkippedRecord[];
  /** Every skipped record and its reason, by record: what summaries of several ranks merge on. */
  records: { record: number; reason: string }[];
}

export class SkipReport {
  // Distinct records: one bad record met again in a later epoch (or by shard padding) counts once.
  private readonly seen = new Map<number, SkippedRecord>();

  constructor(private readonly examplesPerReason = 3) {}

  add(skip: SkippedRecord): void {
    if (!this.seen.has(skip.record)) this.seen.set(skip.record, skip);
  }

  addError(err: DataError, record: number): void {
    this.add({ record, reason: err.reason ?? "processing_failed", message: err.message });
  }

  get total(): number {
    return this.seen.size;
  }

  summary(): SkipSummary {
    return summarize(this.seen.values(), this.examplesPerReason);
  }

  toString(): string {
    const s = this.summary();
    if (s.total === 0) return "no records skipped";
    const parts = Object.entries(s.byReason).map(([r, n]) => `${r}: ${n}`);
    return `skipped ${s.total} record(s) (${parts.join(", ")})`;
  }
}

function summarize(skips: Iterable<SkippedRecord>, examplesPerReason: number): SkipSummary {
  const byReason: Record<string, number> = {};
  const examples: SkippedRecord[] = [];
  const sorted = [...skips].sort((a, b) => a.record - b.record);
  for (const s of sorted) {
    byReason[s.reason] = (byReason[s.reason] ?? 0) + 1;
    if (byReason[s.reason] <= examplesPerReason) examples.push(s);
  }
  const records = sorted.map(({ record, reason }) => ({ record, reason }));
  return { total: sorted.length, byReason, examples, records };
}

/**
 * One summary for the records several ranks skipped: a record that two ranks read (DistributedSampler
 * pads the last shard with records from the start) counts once.
 */
export function mergeSkipSummaries(summaries: readonly SkipSummary[], examplesPerReason = 3): SkipSummary {
  const seen = new Map<number, SkippedRecord>();
  const messages = new Map<number, string>();
  for (const s of summaries) for (const e of s.examples) messages.set(e.record, e.message);
  for (const s of summaries)
    for (const { record, reason } of s.records ?? [])
      if (!seen.has(record)) seen.set(record, { record, reason, message: messages.get(record) ?? reason });
  const merged = summarize(seen.values(), examplesPerReason);
  // Examples are those some rank kept a message for.
  merged.examples = merged.examples.filter((e) => messages.has(e.record));
  return merged;
}
