// Test-only rank entry: runs a scripted sequence of collective operations on deterministic data and
// returns what each rank ended with; some scripts fail on purpose (throw, exit, hang).
import { type Collective, partitionRange } from "../src/zero2/collective/collective.js";
import { isRankWorker, runRank } from "../src/zero2/launch/run-rank.js";

export interface CollectiveScript {
  script: "ops" | "barrier" | "throw" | "exit" | "loop" | "hang";
  total?: number;
  /** For barrier: a shared Int32Array(worldSize) the ranks write their phase into. */
  board?: SharedArrayBuffer;
  rounds?: number;
  failRank?: number;
}

/** The value rank `r` contributes at index `i` (exact in float32). */
export function contribution(r: number, i: number): number {
  return ((i * 7 + r * 13) % 101) - 50 + r / 4;
}

/**
 * The operations every transport's "ops" test checks: reduce-scatter (sum, avg), all-gather, all-reduce
 * (sum, max), broadcast, an empty all-reduce — on `contribution` data of `total` values.
 */
export async function commonOps(collective: Collective, rank: number, worldSize: number, total: number) {
  const fill = () => Float32Array.from({ length: total }, (_, i) => contribution(rank, i));
  const [lo, hi] = partitionRange(total, worldSize, rank);
  const sum = new Float32Array(hi - lo);
  const avg = new Float32Array(hi - lo);
  await collective.reduceScatter(fill(), sum, "sum");
  await collective.reduceScatter(fill(), avg, "avg");
  const gathered = new Float32Array(total).fill(Number.NaN);
  gathered.set(sum, lo);
  await collective.allGather(gathered);
  const reduced = fill();
  await collective.allReduce(reduced, "sum");
  const maxed = Float64Array.from([rank, 1 - rank, rank * 1.5]);
  await collective.allReduce(maxed, "max");
  const root = worldSize - 1;
  const cast = new Float64Array(5).fill(rank === root ? 3.25 : 0);
  await collective.broadcast(cast, root);
  await collective.allReduce(new Float32Array(0));
  return { lo, hi, sum, avg, gathered, reduced, maxed, cast };
}

/** The result of commonOps, as the tests receive it. */
export type CommonOpsResult = Awaited<ReturnType<typeof commonOps>>;

/**
 * All-reduces `data` round after round until rank `failRank` fails at round 3 the way `script` says:
 * throws, exits, or hangs ("loop": nobody fails; the launcher stops the job).
 */
export async function failureScript(
  collective: Collective,
  rank: number,
  script: "throw" | "exit" | "loop" | "hang",
  failRank: number | undefined,
  data: Float32Array,
): Promise<never> {
  for (let round = 0; ; round++) {
    if (rank === failRank && round === 3) {
      if (script === "throw") throw new Error(`boom at round ${round}`);
      if (script === "exit") process.exit(3);
      if (script === "hang") await new Promise((r) => setTimeout(r, 1e9));
    }
    await collective.allReduce(data, "avg");
  }
}

// Imported by the test for `contribution` too, so it only runs as a rank inside a launched worker.
if (isRankWorker())
  runRank<CollectiveScript, unknown>(async ({ rank, worldSize, collective, args }) => {
    const total = args.total ?? 1001;
    const fill = () => Float32Array.from({ length: total }, (_, i) => contribution(rank, i));
    switch (args.script) {
      case "ops": {
        const common = await commonOps(collective, rank, worldSize, total);
        const { lo, hi } = common;
        // From the contiguous gradient buffers (no slot copies), in place as ZeRO-2 does it, when `total`
        // fits in a bucket (null otherwise).
        const contiguous = collective.contiguousGradients(total);
        let inPlace: Float32Array | null = null;
        if (contiguous) {
          contiguous.set(Float32Array.from({ length: total }, (_, i) => contribution(rank, i)));
          await collective.reduceScatter(contiguous, contiguous.subarray(lo, hi), "avg");
          inPlace = Float32Array.from(contiguous.subarray(lo, hi));
        }
        return { ...common, inPlace };
      }
      case "barrier": {
        const board = new Int32Array(args.board!);
        const seen: number[] = [];
        for (let p = 1; p <= (args.rounds ?? 50); p++) {
          Atomics.store(board, rank, p);
          await collective.barrier();
          // Every rank must have written phase p before anyone passes the barrier.
          for (let k = 0; k < worldSize; k++) seen.push(Atomics.load(board, k) >= p ? 1 : 0);
          await collective.barrier();
        }
        return seen.every((x) => x === 1);
      }
      case "throw":
      case "exit":
      case "loop":
      case "hang":
        return failureScript(collective, rank, args.script, args.failRank, fill());
    }
  });
