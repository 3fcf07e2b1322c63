import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { workerEntryUrl } from "@llava-ts/core/internal";
import { describe, expect, it } from "vitest";
import type { ProcessCollectiveScript } from "../../../test/collective-process-test-rank.js";
import { launchProcesses, type ProcessJob } from "./launch-processes.js";
import { RankError } from "./launch-ranks.js";

const entry = new URL("../../../test/collective-process-test-rank.ts", import.meta.url);

function launch(
  worldSize: number,
  args: ProcessCollectiveScript,
  extra: { timeoutMs?: number; jobTimeoutMs?: number } = {},
) {
  return launchProcesses<ProcessCollectiveScript, unknown>({
    worldSize,
    entry,
    args,
    collective: { timeoutMs: extra.timeoutMs },
    timeoutMs: extra.jobTimeoutMs,
    abortGraceMs: 500,
  });
}

async function failure(job: ProcessJob<unknown>): Promise<RankError> {
  return job.result.then(
    () => {
      throw new Error("the job should have failed");
    },
    (e: unknown) => e as RankError,
  );
}

/** Resolves once every rank has done a few collective rounds (the job is really running). */
const running = () => new Promise((r) => setTimeout(r, 800));

describe("launchProcesses: failures end the job with the failing rank named, without hanging", () => {
  it("a rank that throws", async () => {
    const t0 = Date.now();
    const error = await failure(await launch(3, { script: "throw", failRank: 2 }));
    expect(error).toBeInstanceOf(RankError);
    expect(error.rank).toBe(2);
    expect(error.message).toMatch(/^rank 2 of 3 failed: boom at round 3$/);
    expect(error.causeStack).toMatch(/^Error: boom at round 3\n/);
    expect(Date.now() - t0).toBeLessThan(15_000); // from launch: includes starting the processes
  });

  it("a rank that calls process.exit mid-run", async () => {
    const job = await launch(2, { script: "exit", failRank: 1 });
    let diedAt = 0;
    job.processes[1].once("exit", () => {
      diedAt = Date.now();
    });
    const error = await failure(job);
    const ms = Date.now() - diedAt;
    console.log(`tcp: a rank that exits fails the job ${ms} ms after it died`);
    expect(error.rank).toBe(1);
    expect(error.message).toMatch(/^rank 1 of 2 failed: exited with code 3 before finishing$/);
    expect(ms).toBeLessThan(3000);
  });

  it("a rank killed from outside (SIGKILL) while the others wait on it", async () => {
    const job = await launch(3, { script: "loop" });
    await running();
    const t0 = Date.now();
    job.processes[1].kill("SIGKILL");
    const error = await failure(job);
    const ms = Date.now() - t0;
    console.log(`tcp: a rank killed with SIGKILL fails the job in ${ms} ms`);
    expect(error.rank).toBe(1);
    expect(error.message).toMatch(/^rank 1 of 3 failed: killed by SIGKILL before finishing$/);
    expect(ms).toBeLessThan(3000);
    for (const p of job.processes) expect(p.exitCode !== null || p.signalCode !== null).toBe(true);
  });

  it("a rank that never arrives: the others time out naming it, the stuck one is killed", async () => {
    const t0 = Date.now();
    const job = await launch(2, { script: "hang", failRank: 1 }, { timeoutMs: 500 });
    const error = await failure(job);
    expect(error.rank).toBe(1);
    expect(error.message).toMatch(
      /^rank 1 of 2 failed: rank 0: allReduce #3 waited 500 ms for rank 1, which stopped answering \(the collective timeout\)$/,
    );
    expect(job.processes[1].signalCode).toBe("SIGKILL"); // still sleeping after the grace
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it("the launcher can abort a running job; the job's own time limit does the same", async () => {
    const job = await launch(2, { script: "loop" });
    await running();
    job.abort("stopped by the user");
    const error = await failure(job);
    expect(error.rank).toBeUndefined();
    expect(error.message).toMatch(/^ZeRO-2 job aborted: stopped by the user$/);
    const timed = await failure(await launch(2, { script: "loop" }, { jobTimeoutMs: 1500 }));
    expect(timed.message).toMatch(/^ZeRO-2 job aborted: timed out after 1500 ms$/);
  });

  it("long args go through a file; a rank's own failure in the rendezvous is reported", async () => {
    // 40 kB of args (over the environment's share): the ranks still read them and finish.
    const board = "x".repeat(40_000);
    const job = await launchProcesses<ProcessCollectiveScript & { pad: string }, unknown>({
      worldSize: 2,
      entry,
      args: { script: "ops", total: 9, pad: board },
    });
    expect(await job.result).toHaveLength(2);
    // A master port already taken: rank 0 cannot listen and says so; rank 1 is stopped.
    const taken = createServer();
    const port = await new Promise<number>((r) =>
      taken.listen(0, "127.0.0.1", () => r((taken.address() as { port: number }).port)),
    );
    try {
      const clash = await failure(
        await launchProcesses<ProcessCollectiveScript, unknown>({
          worldSize: 2,
          entry,
          args: { script: "ops" },
          masterPort: port,
          abortGraceMs: 500,
        }),
      );
      expect(clash.rank).toBe(0);
      expect(clash.message).toMatch(
        new RegExp(
          `^rank 0 of 2 failed: rank 0: rendezvous: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`,
        ),
      );
    } finally {
      taken.close();
    }
  });

  it("ranks started by hand from the environment alone (a multi-machine launch, here on loopback)", async () => {
    const script = fileURLToPath(await workerEntryUrl(entry));
    const port = await new Promise<number>((r) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => r(port));
      });
    });
    const start = (rank: number, args: ProcessCollectiveScript) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const env = {
          ...process.env,
          RANK: `${rank}`,
          WORLD_SIZE: "2",
          MASTER_ADDR: "127.0.0.1",
          MASTER_PORT: `${port}`,
        };
        const child = spawn(process.execPath, [script], {
          env: { ...env, LLAVA_ZERO2_ARGS: JSON.stringify(args) },
        });
        let stderr = "";
        child.stderr.on("data", (d) => {
          stderr += d;
        });
        child.on("close", (code) => resolve({ code, stderr }));
      });
    const ok = await Promise.all([0, 1].map((r) => start(r, { script: "ops", total: 9 })));
    expect(ok.map((o) => o.code)).toEqual([0, 0]);
    const failed = await Promise.all([0, 1].map((r) => start(r, { script: "throw", failRank: 1 })));
    expect(failed.map((o) => o.code)).toEqual([1, 1]);
    expect(failed[1].stderr).toMatch(/rank 1 of 2 failed: Error: boom at round 3/);
    expect(failed[0].stderr).toMatch(
      /rank 0 of 2 failed: CollectiveError: rank 0: aborted: rank 1 failed: boom at round 3/,
    );
  });
});
