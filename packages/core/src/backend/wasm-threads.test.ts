// The threaded wasm build (XNNPACK on a pthread pool) that initBackend picks on the main thread: the
// thread count asked for, the same numbers as the single-threaded build a worker thread gets, and a
// process that still exits by itself.
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { beforeAll, describe, expect, it } from "vitest";
import { compute, type ThreadsReport } from "../../test/wasm-threads-test-entry.js";
import { workerEntryUrl } from "../workers/worker-entry-url.js";
import { initBackend } from "./init-backend.js";
import { wasmThreads } from "./wasm-threads.js";

const entry = new URL("../../test/wasm-threads-test-entry.ts", import.meta.url);
const expectedThreads = Number(process.env.LLAVA_THREADS || availableParallelism());

function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i])));
}

describe("wasm backend threads", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("uses LLAVA_THREADS, else every core, on the main thread", () => {
    expect(wasmThreads()).toBe(expectedThreads);
  });

  it("rejects a thread count that is not a positive integer", async () => {
    await expect(initBackend({ threads: 0 })).rejects.toThrow(/threads must be a positive integer, got 0/);
    const saved = process.env.LLAVA_THREADS;
    process.env.LLAVA_THREADS = "two";
    try {
      await expect(initBackend()).rejects.toThrow(/LLAVA_THREADS must be a positive integer, got "two"/);
    } finally {
      if (saved === undefined) delete process.env.LLAVA_THREADS;
      else process.env.LLAVA_THREADS = saved;
    }
  });

  it("a worker thread gets one thread and the same products and convolution", async () => {
    const url = await workerEntryUrl(entry);
    const report = await new Promise<ThreadsReport>((resolve, reject) => {
      const w = new Worker(url, { workerData: { llavaThreadsTest: true } });
      w.once("message", (m) => {
        resolve(m as ThreadsReport);
        void w.terminate();
      });
      w.once("error", reject);
    });
    expect(report.threads).toBe(1);
    const here = compute();
    expectClose(report.product, here.product);
    expectClose(report.conv, here.conv);
  });

  it("a process on the threaded build exits by itself when its work is done", async () => {
    const url = await workerEntryUrl(entry);
    const child = spawnSync(process.execPath, [fileURLToPath(url)], {
      env: { ...process.env, LLAVA_THREADS_TEST_ENTRY: "1", LLAVA_THREADS: "2" },
      timeout: 60_000,
      encoding: "utf8",
    });
    expect(child.signal, `child was killed (hung?): ${child.stderr}`).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    const report = JSON.parse(child.stdout) as ThreadsReport;
    expect(report.threads).toBe(2);
    expectClose(report.product, compute().product);
  });

  it("an uncaught error in a process on the threaded build is Node's own report, not the glue's source", async () => {
    const url = await workerEntryUrl(entry);
    const child = spawnSync(process.execPath, [fileURLToPath(url)], {
      env: {
        ...process.env,
        LLAVA_THREADS_TEST_ENTRY: "1",
        LLAVA_THREADS_TEST_THROW: "1",
        LLAVA_THREADS: "2",
      },
      timeout: 60_000,
      encoding: "utf8",
    });
    expect(child.status).toBe(1); // Emscripten's handlers rethrew from inside the glue: exit 7
    expect(child.stderr).toMatch(/RangeError: left uncaught on purpose/);
    expect(child.stderr).not.toMatch(/GROWABLE_HEAP/);
    expect(child.stderr.length).toBeLessThan(4000);
  });
});
