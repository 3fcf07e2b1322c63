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
    const byReason: Record<string, number> = {};
    const examples: SkippedRecord[] = [];
    const sorted = [...this.seen.values()].sort((a, b) => a.record - b.record);
    for (const s of sorted) {
      byReason[s.reason] = (byReason[s.reason] ?? 0) + 1;
      if (byReason[s.reason] <= this.examplesPerReason) examples.push(s);
    }
    return { total: this.seen.size, byReason, examples };
  }

  toString(): string {
    const s = this.summary();
    if (s.total === 0) return "no records skipped";
    const parts = Object.entries(s.byReason).map(([r, n]) => `${r}: ${n}`);
    return `skipped ${s.total} record(s) (${parts.join(", ")})`;
  }
}
