// The process side of a rank (runRank's counterpart for one process per GPU): builds the TcpCollective
// from torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), runs the rank's main
// function, reports its result or error to the launcher over IPC, and exits. A failing rank first tells
// its peers (their operations reject with "aborted: rank r failed"), so nobody waits on it.
import { readFileSync } from "node:fs";
import { CollectiveError } from "../collective/collective.js";
import { TcpCollective, type TcpCollectiveOptions } from "../collective/tcp-collective.js";
import { ARGS_ENV, ARGS_FILE_ENV, COLLECTIVE_ENV, type RankProcessMessage } from "./rank-process-protocol.js";

export interface RankProcessContext<A = unknown> {
  rank: number;
  worldSize: number;
  collective: TcpCollective;
  /** What the launcher passed as `args` (through JSON). */
  args: A;
  /** Sends a line to the launcher's `onLog`; printed to stdout without a launcher. */
  log(line: string): void;
}

/** Whether this process was started as a rank: RANK, WORLD_SIZE and MASTER_PORT are set. */
export function isRankProcess(env: NodeJS.ProcessEnv = process.env): boolean {
  return [env.RANK, env.WORLD_SIZE, env.MASTER_PORT].every((v) => v !== undefined && v !== "");
}

/** The rank's `args`: LLAVA_ZERO2_ARGS (JSON), else the file LLAVA_ZERO2_ARGS_FILE, else undefined. */
export function rankProcessArgs<A>(env: NodeJS.ProcessEnv = process.env): A {
  const json = env[ARGS_ENV] ?? (env[ARGS_FILE_ENV] ? readFileSync(env[ARGS_FILE_ENV], "utf8") : undefined);
  return (json === undefined ? undefined : JSON.parse(json)) as A;
}

/**
 * Call once at the top of a rank entry module. `options` are merged under the launcher's
 * (LLAVA_ZERO2_COLLECTIVE). Without an IPC channel (a manual or multi-machine launch) an error is printed
 * to stderr and the exit code is 1; the result is only what `main` itself writes.
 */
export function runRankProcess<A, R>(
  main: (ctx: RankProcessContext<A>) => R | Promise<R>,
  options: TcpCollectiveOptions = {},
): void {
  const report = (m: RankProcessMessage) =>
    new Promise<void>((resolve) => {
      if (!process.send || !process.connected) return resolve();
      process.send(m, undefined, {}, () => resolve());
    });
  // A launcher that dies takes its ranks with it.
  if (process.send) process.once("disconnect", () => process.exit(1));
  let collective: TcpCollective | undefined;
  let rank = Number(process.env.RANK); // until the collective has checked them
  let worldSize = Number(process.env.WORLD_SIZE);
  (async () => {
    const launched = JSON.parse(process.env[COLLECTIVE_ENV] || "{}") as TcpCollectiveOptions;
    collective = await TcpCollective.fromEnv(process.env, { ...options, ...launched });
    ({ rank, worldSize } = collective);
    const args = rankProcessArgs<A>();
    const log = (line: string) => {
      if (process.send) void report({ type: "log", line });
      else console.log(line);
    };
    const value = await main({ rank, worldSize, collective, args, log });
    await collective.close();
    await report({ type: "result", value });
  })().then(
    () => process.exit(0),
    async (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      // An abort caused by another rank is a consequence, not a cause: do not claim the failure.
      const failedRank = e instanceof CollectiveError ? e.failedRank : undefined;
      const secondary = failedRank !== undefined && failedRank !== rank;
      await collective?.abort(e);
      if (!process.send) console.error(`rank ${rank} of ${worldSize} failed:`, e.stack ?? e.message);
      await report({
        type: "error",
        name: e.name,
        message: e.message,
        stack: e.stack,
        secondary,
        failedRank,
      });
      process.exit(1);
    },
  );
}
