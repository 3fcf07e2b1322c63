// The launcher for one process per rank (torchrun's role; launchRanks does the same for threads): forks
// N `node` processes with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set (LLAVA_THREADS to
// their share of the cores unless given), collects each rank's result over IPC, and turns the first
// failure (a throw, a non-zero exit, a signal) into a RankError.
// A failing rank tells its peers itself, so they stop at their next collective operation; any process
// still running after a short grace is killed, so the job never hangs.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { workerEntryUrl } from "@llava-ts/core/internal";
import type { TcpCollectiveOptions } from "../collective/tcp-collective.js";
import { RankError } from "./launch-ranks.js";
import { ARGS_ENV, ARGS_FILE_ENV, COLLECTIVE_ENV, type RankProcessMessage } from "./rank-process-protocol.js";

export interface LaunchProcessesOptions<A> {
  worldSize: number;
  /** The rank entry module (calls runRankProcess); a .ts file is bundled first, as launchRanks does. */
  entry: URL | string;
  /** Per-rank arguments, passed as JSON (an environment variable, or a temp file when long). */
  args?: A | ((rank: number) => A);
  /** Extra environment, for every rank or per rank (e.g. `(r) => ({ CUDA_VISIBLE_DEVICES: String(r) })`). */
  env?: Record<string, string> | ((rank: number) => Record<string, string>);
  collective?: TcpCollectiveOptions;
  /** The whole job's wall-clock limit, after which it is aborted. Default: none. */
  timeoutMs?: number;
  /** After a failure, how long the other ranks get to stop on their own before SIGKILL. Default 2 s. */
  abortGraceMs?: number;
  /** Default 127.0.0.1 (one machine). */
  masterAddr?: string;
  /** Default: a free port. */
  masterPort?: number;
  /** Node flags for the rank processes (e.g. --max-old-space-size=…). Default none. */
  execArgv?: string[];
  /** Lines a rank sends with its context's `log`. */
  onLog?: (rank: number, line: string) => void;
}

export interface ProcessJob<R> {
  processes: ChildProcess[];
  masterPort: number;
  /** Every rank's return value, in rank order; rejects with a RankError. */
  result: Promise<R[]>;
  /** Stops the job: SIGTERM now, SIGKILL after the grace (the result rejects with `reason`). */
  abort(reason: string): void;
}

interface ProcessState {
  done: boolean;
  exited: boolean;
  killed: boolean;
  value?: unknown;
  failure?: { reason: string; stack?: string; secondary: boolean; failedRank?: number };
}

const MAX_ENV_ARGS = 32_768; // bytes of JSON passed in the environment; longer args go through a file

export async function launchProcesses<A, R>(options: LaunchProcessesOptions<A>): Promise<ProcessJob<R>> {
  const N = options.worldSize;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`worldSize must be ≥ 1, got ${N}`);
  const script = fileURLToPath(await workerEntryUrl(options.entry));
  const masterAddr = options.masterAddr ?? "127.0.0.1";
  const masterPort = options.masterPort ?? (await freePort(masterAddr));
  const grace = options.abortGraceMs ?? 2000;
  const states: ProcessState[] = Array.from({ length: N }, () => ({
    done: false,
    exited: false,
    killed: false,
  }));
  const causes: (number | "launcher")[] = []; // primary failures, in arrival order
  const timers = new Set<NodeJS.Timeout>();
  let launcherReason: string | undefined;
  let argsDir: string | undefined;
  let graceStarted = false;
  let settle!: { resolve: (v: R[]) => void; reject: (e: Error) => void };
  const result = new Promise<R[]>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const processes = Array.from({ length: N }, (_, rank) => {
    const extra = typeof options.env === "function" ? options.env(rank) : options.env;
    const env: NodeJS.ProcessEnv = {
      // As torchrun sets OMP_NUM_THREADS: ranks share the cores (wasm) unless told otherwise.
      LLAVA_THREADS: String(Math.max(1, Math.floor(availableParallelism() / N))),
      ...process.env,
      ...extra,
      RANK: String(rank),
      WORLD_SIZE: String(N),
      LOCAL_RANK: String(rank),
      LOCAL_WORLD_SIZE: String(N),
      MASTER_ADDR: masterAddr,
      MASTER_PORT: String(masterPort),
      [COLLECTIVE_ENV]: JSON.stringify(options.collective ?? {}),
    };
    delete env[ARGS_ENV];
    delete env[ARGS_FILE_ENV];
    const args = typeof options.args === "function" ? (options.args as (r: number) => A)(rank) : options.args;
    const json = args === undefined ? undefined : JSON.stringify(args);
    if (json !== undefined && json.length <= MAX_ENV_ARGS) env[ARGS_ENV] = json;
    else if (json !== undefined) {
      argsDir ??= mkdtempSync(join(tmpdir(), "llava-zero2-args-"));
      env[ARGS_FILE_ENV] = join(argsDir, `rank-${rank}.json`);
      writeFileSync(env[ARGS_FILE_ENV], json);
    }
    return fork(script, [], {
      env,
      execArgv: options.execArgv ?? [],
      serialization: "advanced", // structured clone: typed arrays in results survive
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
  });

  const after = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
    return t;
  };
  const kill = (rank: number, signal: NodeJS.Signals) => {
    if (states[rank].exited) return;
    if (!states[rank].done) states[rank].killed = true;
    processes[rank].kill(signal);
  };
  const fail = (cause?: number | "launcher") => {
    if (cause !== undefined) causes.push(cause);
    if (graceStarted) return;
    graceStarted = true;
    after(grace, () => {
      for (let r = 0; r < N; r++) kill(r, "SIGKILL");
    });
  };
  if (options.timeoutMs !== undefined)
    after(options.timeoutMs, () => abort(`timed out after ${options.timeoutMs} ms`));

  const abort = (reason: string) => {
    launcherReason ??= reason;
    fail("launcher");
    for (let r = 0; r < N; r++) kill(r, "SIGTERM");
  };

  const finish = () => {
    if (!states.every((s) => s.exited)) return;
    for (const t of timers) clearTimeout(t);
    if (argsDir) rmSync(argsDir, { recursive: true, force: true });
    if (causes.length === 0 && states.every((s) => s.done && !s.failure)) {
      settle.resolve(states.map((s) => s.value as R));
      return;
    }
    // No primary failure reported: trust the rank a secondary one blames, else the one reporting it.
    const secondary = states.findIndex((s) => s.failure?.secondary && !s.killed);
    const blamed = secondary >= 0 ? states[secondary].failure!.failedRank : undefined;
    const by = causes[0] ?? (blamed !== undefined && states[blamed].failure ? blamed : secondary);
    if (by === "launcher" || by < 0) {
      settle.reject(new RankError(undefined, N, launcherReason ?? "a rank failed"));
      return;
    }
    const f = states[by].failure;
    // The blamed rank was killed here without a report of its own (stopped, or stuck): the reason is
    // what the rank that waited for it says.
    if (by === blamed && states[by].killed && secondary >= 0) {
      const w = states[secondary].failure!;
      settle.reject(new RankError(by, N, w.reason, w.stack));
      return;
    }
    settle.reject(new RankError(by, N, f?.reason ?? "failed without a report", f?.stack));
  };

  processes.forEach((child, rank) => {
    const state = states[rank];
    child.on("message", (m: RankProcessMessage) => {
      if (m.type === "log") return options.onLog?.(rank, m.line);
      if (state.done) return;
      state.done = true;
      if (m.type === "result") {
        state.value = m.value;
        after(Math.max(grace, 5000), () => kill(rank, "SIGKILL")); // reported, so only its exit is late
        return;
      }
      state.failure = { reason: m.message, stack: m.stack, secondary: m.secondary, failedRank: m.failedRank };
      fail(m.secondary ? undefined : rank);
    });
    child.on("error", (err) => {
      if (state.done || state.exited) return;
      state.done = true;
      state.failure = { reason: `${err.name}: ${err.message}`, stack: err.stack, secondary: false };
      fail(rank);
    });
    // 'close', not 'exit': it comes after the IPC channel has delivered everything the rank sent.
    child.on("close", (code, signal) => {
      state.exited = true;
      if (!state.done) {
        const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
        state.failure = state.killed
          ? { reason: `stopped after another rank failed (${how})`, secondary: true }
          : { reason: `${how} before finishing`, secondary: false };
        fail(state.killed ? undefined : rank);
      }
      finish();
    });
  });

  return { processes, masterPort, result, abort };
}

/** A port the OS says is free now (rank 0 binds it a moment later, as torchrun's launcher does). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
