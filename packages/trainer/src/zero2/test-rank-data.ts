// Test-only RankDataSource module: each rank serves its rows of the global batches it is given, and
// reports how many batches it served and whether it was closed.
import type { EpochSource } from "../batch-stream.js";
import type { Batch } from "../train-task.js";
import { rankRows } from "./rank-data.js";

export function openRankData(
  args: { batches: Batch[] },
  { rank, worldSize }: { rank: number; worldSize: number },
): EpochSource<Batch> & { stats(): unknown; close(): void } {
  const own = args.batches.map((b) => rankRows(b, rank, worldSize));
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
