import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { WorkerPool } from "./worker-pool.js";
import type { InitMessage } from "./worker-protocol.js";

// A worker that speaks the loader's protocol and then blocks in a synchronous call (like a native decode
// that does not return): terminate() cannot stop it until the call ends.
const BLOCKING_WORKER = `
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { parentPort } from "node:worker_threads";
parentPort.on("message", (msg) => {
  if (msg.type === "init") return parentPort.postMessage({ type: "ready" });
  writeFileSync(new URL("./busy", import.meta.url), "");
  execFileSync("sleep", ["3"]);
  parentPort.postMessage({ type: "error", id: msg.id, message: "never" });
});
`;

describe("WorkerPool.close", () => {
  it("settles after its bound when a worker cannot stop, and fails the running task", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llava-pool-"));
    const file = join(dir, "blocking-worker.mjs");
    writeFileSync(file, BLOCKING_WORKER);
    const pool = new WorkerPool(pathToFileURL(file), 1, { type: "init" } as InitMessage);
    pool.closeTimeoutMs = 300;
    const task = pool.run([0]).catch((e: Error) => e);
    // The task reaches the worker once it is ready; then the worker sits in its 3 s call.
    while (!existsSync(join(dir, "busy"))) await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    await pool.close();
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(2500); // not the 3 s the worker needs to stop
    expect(((await task) as Error).message).toBe("loader closed");
    await pool.close(); // a second close is a no-op
  });
});
