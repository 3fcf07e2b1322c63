// The worker side of a rank: builds the shared-memory Collective from workerData, runs the rank's main
// function, and reports its result or error to the launcher. A failing rank sets the abort word before
// anything else, so the other ranks stop at their next collective call instead of waiting for it.
import { parentPort, workerData } from "node:worker_threads";
import { CollectiveError } from "../collective/collective.js";
import { abortCollective, SharedMemoryCollective } from "../collective/shared-memory-collective.js";
import { RANK_WORKER_KIND, type RankMessage, type RankWorkerData } from "./rank-protocol.js";

export interface RankContext<A = unknown> {
  rank: number;
  worldSize: number;
  collective: SharedMemoryCollective;
  /** What the launcher passed as `args` (structured-cloned). */
  args: A;
  /** Sends a line to the launcher's `onLog` (e.g. rank 0's summary for the user). */
  log(line: string): void;
}

/** Whether this thread was started by launchRanks. */
export function isRankWorker(): boolean {
  return (workerData as RankWorkerData | undefined)?.kind === RANK_WORKER_KIND && parentPort !== null;
}

/** Call once at the top of a rank entry module. */
export function runRank<A, R>(main: (ctx: RankContext<A>) => R | Promise<R>): void {
  if (!isRankWorker()) throw new Error("runRank: not inside a worker started by launchRanks");
  const data = workerData as RankWorkerData;
  const port = parentPort!;
  const post = (m: RankMessage) => port.postMessage(m);
  const collective = new SharedMemoryCollective(data.memory, data.rank, data.collective);
  const ctx: RankContext<A> = {
    rank: data.rank,
    worldSize: data.memory.worldSize,
    collective,
    args: data.args as A,
    log: (line) => post({ type: "log", line }),
  };
  Promise.resolve()
    .then(() => main(ctx))
    .then(
      (value) => post({ type: "result", value }),
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        // An abort caused by another rank is a consequence, not a cause: do not claim the failure.
        const secondary =
          e instanceof CollectiveError && e.failedRank !== undefined && e.failedRank !== data.rank;
        if (!secondary) abortCollective(data.memory, data.rank);
        post({ type: "error", name: e.name, message: e.message, stack: e.stack, secondary });
      },
    );
}
