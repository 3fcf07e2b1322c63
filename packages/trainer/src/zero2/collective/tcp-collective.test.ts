import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProcessCollectiveScript } from "../../../test/collective-process-test-rank.js";
import { type CommonOpsResult, contribution } from "../../../test/collective-test-rank.js";
import { launchProcesses } from "../launch/launch-processes.js";
import { CollectiveError, partitionRange } from "./collective.js";
import { TcpCollective, type TcpCollectiveOptions } from "./tcp-collective.js";

const entry = new URL("../../../test/collective-process-test-rank.ts", import.meta.url);

const run = async <R>(worldSize: number, args: ProcessCollectiveScript, collective?: TcpCollectiveOptions) =>
  (await launchProcesses<ProcessCollectiveScript, R>({ worldSize, entry, args, collective })).result;

type OpsResult = CommonOpsResult & { inPlace: Float32Array; f64: Float64Array; once: number };

/** What SharedMemoryCollective's reduceSlots computes: rank order, float64, rounded once. */
function expectedSum(N: number, total: number): Float32Array {
  return Float32Array.from({ length: total }, (_, i) => {
    let s = 0;
    for (let r = 0; r < N; r++) s += contribution(r, i);
    return s;
  });
}

describe("TcpCollective across processes (loopback)", () => {
  // Frames of 64 values: every partition crosses several frames; 2²² (default): one frame each.
  for (const [N, bucketSize] of [
    [2, 64],
    [3, 64],
    [3, undefined],
  ] as const)
    it(`reduce-scatters, all-gathers, all-reduces and broadcasts (${N} processes, 1001 values, frames of ${bucketSize ?? "2^22"})`, async () => {
      const total = 1001;
      const results = await run<OpsResult>(N, { script: "ops", total }, { bucketSize });
      const sum = expectedSum(N, total);
      const f64 = new Float64Array(7);
      for (let i = 0; i < 7; i++) {
        let s = 0;
        for (let r = 0; r < N; r++) s += 0.1 * (r + 1) + i / 3;
        f64[i] = s / N;
      }
      results.forEach((res, r) => {
        expect([res.lo, res.hi]).toEqual(partitionRange(total, N, r));
        expect([...res.sum]).toEqual([...sum.subarray(res.lo, res.hi)]);
        expect([...res.avg]).toEqual([...sum.subarray(res.lo, res.hi)].map((s) => Math.fround(s / N)));
        expect([...res.gathered]).toEqual([...sum]);
        expect([...res.reduced]).toEqual([...sum]);
        expect([...res.maxed]).toEqual([N - 1, 1, (N - 1) * 1.5]);
        expect([...res.cast]).toEqual([3.25, 3.25, 3.25, 3.25, 3.25]);
        expect([...res.inPlace]).toEqual([...res.avg]);
        expect([...res.f64]).toEqual([...f64]); // bit-identical to the rank-order float64 mean
        expect(res.once).toBe(Math.fround(1 + (N - 1) * 2 ** -24));
      });
      if (N === 3) expect(results.map((r) => r.hi - r.lo)).toEqual([333, 334, 334]);
    });

  it("a single rank is the identity", async () => {
    const [res] = await run<OpsResult>(1, { script: "ops", total: 37 });
    const own = Float32Array.from({ length: 37 }, (_, i) => contribution(0, i));
    expect([...res.sum]).toEqual([...own]);
    expect([...res.avg]).toEqual([...own]);
    expect([...res.gathered]).toEqual([...own]);
  });

  it("barrier: no rank passes before every rank has arrived", async () => {
    const board = mkdtempSync(join(tmpdir(), "tcp-barrier-"));
    try {
      expect(await run<boolean>(3, { script: "barrier", board, rounds: 100 })).toEqual([true, true, true]);
    } finally {
      rmSync(board, { recursive: true, force: true });
    }
  });

  it("all-reduces 4 M float32 (16 MB) exactly; prints the loopback throughput and latency", async () => {
    const total = 2 ** 22;
    const res = await run<{ ms: number; scalarUs: number; wrong: number[] }>(2, {
      script: "throughput",
      total,
      rounds: 10,
    });
    for (const r of res) expect(r.wrong).toEqual([]);
    const ms = Math.max(...res.map((r) => r.ms));
    const us = Math.max(...res.map((r) => r.scalarUs));
    // Algorithm bandwidth (torch's "algbw"): bytes of the array per second of all-reduce.
    console.log(
      `tcp all-reduce, 2 processes, ${total} float32: ${ms.toFixed(0)} ms, ${((total * 4) / ms / 1e3).toFixed(0)} MB/s; one float64: ${us.toFixed(0)} µs`,
    );
  });
});

describe("TcpCollective errors name the peer (ranks as tasks of this process, real sockets)", () => {
  async function connectAll(N: number, options: TcpCollectiveOptions = {}): Promise<TcpCollective[]> {
    const { port } = await new Promise<{ port: number }>((resolve) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => {
        const address = s.address() as { port: number };
        s.close(() => resolve(address));
      });
    });
    return Promise.all(
      Array.from({ length: N }, (_, rank) =>
        TcpCollective.connect({ ...options, rank, worldSize: N, masterAddr: "127.0.0.1", masterPort: port }),
      ),
    );
  }

  it("arrays of different lengths: both sides say which rank sent what", async () => {
    const [a, b] = await connectAll(2);
    const results = await Promise.allSettled([
      a.allReduce(new Float32Array(10)),
      b.allReduce(new Float32Array(12)),
    ]);
    const messages = results.map((r) => (r as PromiseRejectedResult).reason.message as string);
    // Whichever rank notices first aborts the other, which then reports it with the first one's words.
    const detail =
      /allReduce #0: rank (\d) sent allReduce phase 0 #0 with (5|6) float32 values at (5|0), expected allReduce phase 0 #0 with (6|5) float32 values at (6|0)/;
    expect(messages[0]).toMatch(/^rank 0: /);
    expect(messages[1]).toMatch(/^rank 1: /);
    for (const m of messages) expect(m).toMatch(detail);
    await Promise.all([a.close(), b.close()]);
  });

  it("a peer that closes without a goodbye fails pending and later operations, naming it", async () => {
    const [a, b, c] = await connectAll(3);
    const pending = a.allReduce(new Float64Array(4));
    const pendingB = b.allReduce(new Float64Array(4));
    // As if rank 2's process died: its sockets close with no goodbye and no abort notice.
    const mesh = (c as unknown as { mesh: { peers: ({ destroy(): void } | undefined)[] } }).mesh;
    for (const socket of mesh.peers) socket?.destroy();
    const error = await pending.catch((e: unknown) => e as CollectiveError);
    expect(error).toBeInstanceOf(CollectiveError);
    expect(error).toMatchObject({ rank: 0, failedRank: 2 });
    expect((error as Error).message).toMatch(/rank 0: (rank 2 closed its connection|aborted: rank 2 failed)/);
    await expect(pendingB).rejects.toMatchObject({ failedRank: 2 });
    await expect(a.barrier()).rejects.toBe(error); // later operations: the same failure
  });

  it("a peer that never arrives: the operation times out naming it; the others are told", async () => {
    const [a, b] = await connectAll(2, { timeoutMs: 300 });
    const t0 = Date.now();
    const error = await a.barrier().then(
      () => undefined,
      (e: unknown) => e as CollectiveError,
    );
    expect(error?.message).toMatch(/rank 0: barrier #0 waited 300 ms for rank 1, which stopped answering/);
    expect(error?.failedRank).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2000);
    // b's barrier #0 may still complete (rank 0 did send its frame); the next operation cannot.
    await expect(b.barrier().then(() => b.barrier())).rejects.toThrow(
      /rank 1: aborted by rank 0: barrier #0 waited 300 ms for rank 1/,
    );
  });

  it("close() after the last operation is clean: no failure on either side", async () => {
    const [a, b] = await connectAll(2);
    const x = Float32Array.of(1, 2, 3);
    const y = Float32Array.of(4, 5, 6);
    await Promise.all([a.allReduce(x, "max"), b.allReduce(y, "max")]);
    expect([...x]).toEqual([4, 5, 6]);
    await Promise.all([a.close(), b.close()]);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.error).toBeUndefined();
    expect(b.error).toBeUndefined();
    await expect(a.barrier()).rejects.toThrow(/closed/);
  });
});
