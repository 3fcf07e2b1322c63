// The launcher (torchrun's role for threads): starts one worker per rank on a shared-memory Collective,
// collects their results, and turns the first failure into a RankError. A rank that throws, exits or is
// terminated sets the abort word (itself, or here on 'exit'); the others wake from their waits and stop,
// and any rank still computing is terminated after a short grace, so the job never hangs.
import { Worker } from "node:worker_threads";
import { LlavaError } from "@llava-ts/core";
import { workerEntryUrl } from "@llava-ts/core/internal";
import {
  abortCollective,
  abortedBy,
  type CollectiveMemory,
  createCollectiveMemory,
  type SharedMemoryCollectiveOptions,
  stalledRank,
} from "../collective/shared-memory-collective.js";
import { RANK_WORKER_KIND, type RankMessage, type RankWorkerData } from "./rank-protocol.js";

export interface LaunchOptions<A> {
  worldSize: number;
  /** The rank entry module (calls runRank); a .ts file is bundled first. */
  entry: URL | string;
  /** Per-rank arguments (structured-cloned into each worker). */
  args?: A | ((rank: number) => A);
  /** Float32 values per rank slot (DeepSpeed reduce_bucket_size). Default 1e8; pages never touched cost no memory. */
  bucketSize?: number;
  collective?: SharedMemoryCollectiveOptions;
  /** After a failure, how long the other ranks get to stop on their own before termination. Default 2 s. */
  abortGraceMs?: number;
  /** Lines a rank sends with its context's `log`. */
  onLog?: (rank: number, line: string) => void;
}

/** One rank failed; `rank` is the one that caused it, `cause` what it threw or how it ended. */
export class RankError extends LlavaError {
  override name = "RankError";
  constructor(
    readonly rank: number | undefined,
    readonly worldSize: number,
    readonly reason: string,
    readonly causeStack?: string,
  ) {
    super(
      rank === undefined ? `ZeRO-2 job aborted: ${reason}` : `rank ${rank} of ${worldSize} failed: ${reason}`,
    );
  }
}

export interface RankJob<R> {
  workers: Worker[];
  memory: CollectiveMemory;
  /** Every rank's return value, in rank order; rejects with a RankError. */
  result: Promise<R[]>;
  /** Stops the job (the result rejects with `reason`). */
  abort(reason: string): void;
}

interface RankState {
  done: boolean;
  exited: boolean;
  value?: unknown;
  failure?: { reason: string; stack?: string; secondary: boolean };
}

export async function launchRanks<A, R>(options: LaunchOptions<A>): Promise<RankJob<R>> {
  const N = options.worldSize;
  const url = await workerEntryUrl(options.entry);
  const bucket = options.bucketSize ?? Math.min(1e8, Math.floor(2 ** 30 / N));
  const memory = createCollectiveMemory(N, bucket);
  const states: RankState[] = Array.from({ length: N }, () => ({ done: false, exited: false }));
  let launcherReason: string | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let settle!: { resolve: (v: R[]) => void; reject: (e: Error) => void };
  const result = new Promise<R[]>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const workers = Array.from({ length: N }, (_, rank) => {
    const workerData: RankWorkerData = {
      kind: RANK_WORKER_KIND,
      rank,
      memory,
      collective: options.collective ?? {},
      args: typeof options.args === "function" ? (options.args as (r: number) => A)(rank) : options.args,
    };
    return new Worker(url, { workerData });
  });

  const fail = (rank: number | "launcher") => {
    abortCollective(memory, rank);
    graceTimer ??= setTimeout(() => {
      for (let r = 0; r < N; r++) if (!states[r].exited) void workers[r].terminate();
    }, options.abortGraceMs ?? 2000);
  };

  const finish = () => {
    if (!states.every((s) => s.exited)) return;
    clearTimeout(graceTimer);
    const by = abortedBy(memory);
    if (by === undefined && states.every((s) => s.done && !s.failure)) {
      settle.resolve(states.map((s) => s.value as R));
      return;
    }
    if (by === "launcher" || by === undefined) {
      settle.reject(new RankError(undefined, N, launcherReason ?? "a rank failed"));
      return;
    }
    const f = states[by].failure;
    // A rank that timed out waiting reports the one it waited for: that one is the cause (it was stopped
    // or stuck, and was terminated without a report of its own).
    const stalled = stalledRank(memory);
    if (stalled !== undefined && stalled !== by) {
      settle.reject(new RankError(stalled, N, f?.reason ?? "stopped answering", f?.stack));
      return;
    }
    settle.reject(new RankError(by, N, f?.reason ?? "failed without a report", f?.stack));
  };

  workers.forEach((worker, rank) => {
    const state = states[rank];
    worker.on("message", (m: RankMessage) => {
      if (m.type === "log") options.onLog?.(rank, m.line);
      else if (m.type === "result") {
        state.done = true;
        state.value = m.value;
        void worker.terminate(); // nothing left to do; do not wait for its event loop to drain
      } else if (m.type === "error") {
        state.done = true;
        state.failure = { reason: m.message, stack: m.stack, secondary: m.secondary };
        fail(rank);
        void worker.terminate();
      }
    });
    worker.on("error", (err) => {
      state.failure ??= { reason: `${err.name}: ${err.message}`, stack: err.stack, secondary: false };
      state.done = true;
      fail(rank);
    });
    worker.on("exit", (code) => {
      state.exited = true;
      if (!state.done) {
        const killed = abortedBy(memory) !== undefined;
        state.failure = {
          reason: killed
            ? `stopped after another rank failed (exit code ${code})`
            : `exited with code ${code} before finishing`,
          secondary: killed,
        };
        fail(rank);
      }
      finish();
    });
  });

  return {
    workers,
    memory,
    result,
    abort(reason: string) {
      launcherReason ??= reason;
      fail("launcher");
    },
  };
}
