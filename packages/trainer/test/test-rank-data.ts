// Test-only RankDataSource module: each rank serves its rows of the global batches it is given, and
// reports how many batches it served and whether it was closed.
// `fixture` (JSON-safe, for rank processes) names a fixture whose batch is the one global batch.
import { loadCases } from "@llava-ts/core/testing";
import type { LlavaBatch } from "@llava-ts/datasets";
import type { EpochSource } from "../src/batch-stream.js";
import { rankRows } from "../src/zero2/rank-data.js";
import { fixtureBatch } from "./fixture-batch.js";

export function openRankData(
  args: { batches?: LlavaBatch[]; fixture?: string },
  { rank, worldSize }: { rank: number; worldSize: number },
): EpochSource<LlavaBatch> & { stats(): unknown; close(): void } {
  let batches = args.batches ?? [];
  if (args.fixture) {
    const cases = loadCases(args.fixture);
    batches = [fixtureBatch(cases)]; // fixtureBatch reads the arrays out; the cases can close
    cases.close();
  }
  const own = batches.map((b) => rankRows(b, rank, worldSize));
  let served = 0;
  let closed = false;
  return {
    length: own.length,
    *epoch(_e: number, start = 0) {
      for (const b of own.slice(start)) {
        served++;
        yield b;
      }
    },
    stats: () => ({ rank, served, closed }),
    close() {
      closed = true;
    },
  };
}
