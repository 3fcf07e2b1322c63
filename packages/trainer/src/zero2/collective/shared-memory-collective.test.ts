import { describe, expect, it } from "vitest";
import {
  type CollectiveScript,
  type CommonOpsResult,
  contribution,
} from "../../../test/collective-test-rank.js";
import { launchRanks, RankError } from "../launch/launch-ranks.js";
import { partitionRange } from "./collective.js";

const entry = new URL("../../../test/collective-test-rank.ts", import.meta.url);

function launch<R>(
  worldSize: number,
  args: CollectiveScript,
  extra: { bucketSize?: number; timeoutMs?: number } = {},
) {
  return launchRanks<CollectiveScript, R>({
    worldSize,
    entry,
    args,
    bucketSize: extra.bucketSize,
    collective: { timeoutMs: extra.timeoutMs },
  });
}

type OpsResult = CommonOpsResult & { inPlace: Float32Array | null };

describe("partitionRange", () => {
  it("covers [0, total) with contiguous ranges whose sizes differ by at most one", () => {
    for (const [total, n] of [
      [10, 3],
      [7, 7],
      [2, 5],
      [1001, 2],
    ]) {
      const ranges = Array.from({ length: n }, (_, r) => partitionRange(total, n, r));
      expect(ranges[0][0]).toBe(0);
      expect(ranges[n - 1][1]).toBe(total);
      for (let r = 1; r < n; r++) expect(ranges[r][0]).toBe(ranges[r - 1][1]);
      const sizes = ranges.map(([a, b]) => b - a);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });
});

describe("SharedMemoryCollective across worker threads", () => {
  // Buckets of 64: every operation goes through the slots in chunks, and 1001 values do not fit a
  // contiguous buffer; buckets of 1024: the reduce-scatter reads the ranks' contiguous buffers in place.
  for (const bucketSize of [64, 1024])
    it(`reduce-scatters, all-gathers, all-reduces and broadcasts (3 ranks, 1001 values, buckets of ${bucketSize})`, async () => {
      const N = 3;
      const total = 1001;
      const job = await launch<OpsResult>(N, { script: "ops", total }, { bucketSize });
      const results = await job.result;
      const expectedSum = Float32Array.from({ length: total }, (_, i) => {
        let s = 0;
        for (let r = 0; r < N; r++) s += contribution(r, i);
        return s;
      });
      results.forEach((res, r) => {
        expect([res.lo, res.hi]).toEqual(partitionRange(total, N, r));
        expect([...res.sum]).toEqual([...expectedSum.subarray(res.lo, res.hi)]);
        expect([...res.avg]).toEqual(
          [...expectedSum.subarray(res.lo, res.hi)].map((s) => Math.fround(s / N)),
        );
        expect([...res.gathered]).toEqual([...expectedSum]);
        expect([...res.reduced]).toEqual([...expectedSum]);
        expect([...res.maxed]).toEqual([N - 1, 1, (N - 1) * 1.5]);
        expect([...res.cast]).toEqual([3.25, 3.25, 3.25, 3.25, 3.25]);
        if (bucketSize < total) expect(res.inPlace).toBeNull();
        else expect([...res.inPlace!]).toEqual([...res.avg]); // equals the slot path's result
      });
      // Sizes not divisible by N: 1001 = 333 + 334 + 334.
      expect(results.map((r) => r.hi - r.lo)).toEqual([333, 334, 334]);
    });

  it("a single rank is the identity", async () => {
    const [res] = await (await launch<OpsResult>(1, { script: "ops", total: 37 }, { bucketSize: 8 })).result;
    const own = Float32Array.from({ length: 37 }, (_, i) => contribution(0, i));
    expect([...res.sum]).toEqual([...own]);
    expect([...res.avg]).toEqual([...own]);
    expect([...res.gathered]).toEqual([...own]);
  });

  it("barrier: no rank passes before every rank has arrived", async () => {
    const board = new SharedArrayBuffer(4 * 4);
    const res = await (await launch<boolean>(4, { script: "barrier", board, rounds: 200 })).result;
    expect(res).toEqual([true, true, true, true]);
  });
});

describe("failures end the job with the failing rank named, without hanging", () => {
  async function failure(job: { result: Promise<unknown> }): Promise<{ error: RankError; ms: number }> {
    const t0 = Date.now();
    const error = await job.result.then(
      () => {
        throw new Error("the job should have failed");
      },
      (e: unknown) => e as RankError,
    );
    return { error, ms: Date.now() - t0 };
  }

  it("a rank that throws", async () => {
    const { error, ms } = await failure(await launch(3, { script: "throw", failRank: 2 }));
    expect(error).toBeInstanceOf(RankError);
    expect(error.rank).toBe(2);
    expect(error.message).toMatch(/rank 2 of 3 failed: boom at round 3/);
    expect(ms).toBeLessThan(15_000); // from launch: includes starting the workers on a busy machine
  });

  it("a rank that calls process.exit mid-run", async () => {
    const job = await launch(2, { script: "exit", failRank: 1 });
    let diedAt = 0;
    job.workers[1].once("exit", () => {
      diedAt = Date.now();
    });
    const { error } = await failure(job);
    expect(error.rank).toBe(1);
    expect(error.message).toMatch(/rank 1 of 2 failed: exited with code 3 before finishing/);
    expect(Date.now() - diedAt).toBeLessThan(3000);
  });

  it("a rank terminated from outside while the others wait on it", async () => {
    const job = await launch(2, { script: "loop" });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    void job.workers[1].terminate();
    const { error } = await failure(job);
    expect(error.rank).toBe(1);
    expect(error.message).toMatch(/rank 1 of 2 failed: exited with code \d+ before finishing/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("a rank that never arrives: the others time out naming it, the stuck one is terminated", async () => {
    // 3 s: on a loaded machine a worker can start later than a shorter timeout, and the late starter is
    // then (rightly) the rank named.
    const { error, ms } = await failure(
      await launch(2, { script: "hang", failRank: 1 }, { timeoutMs: 3000 }),
    );
    expect(error.rank).toBe(1);
    expect(error.message).toMatch(
      /^rank 1 of 2 failed: rank 0: waited 3 s at a barrier for rank 1, which stopped answering \(the collective timeout\)$/,
    );
    expect(ms).toBeLessThan(15_000);
  });

  it("the launcher can abort a running job", async () => {
    const job = await launch(2, { script: "loop" });
    await new Promise((r) => setTimeout(r, 200));
    job.abort("stopped by the user");
    const { error } = await failure(job);
    expect(error.rank).toBeUndefined();
    expect(error.message).toMatch(/aborted: stopped by the user/);
  });
});
