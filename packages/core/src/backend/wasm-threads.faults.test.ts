// Fault suite (issue 19, class 4): the threaded wasm build's pthread worker is a file Node runs. It used to
// be $TMPDIR/llava-ts-tfjs-wasm-<hash>.worker.cjs, run if it existed — any local user could plant it.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ThreadsReport } from "../../test/wasm-threads-test-entry.js";
import { workerEntryUrl } from "../workers/worker-entry-url.js";

describe("the wasm pthread worker file", () => {
  it("lives in a private folder of the process (mode 700), is removed at exit, and a planted file never runs", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "llava-private-tmp-"));
    const marker = join(tmp, "PLANTED-CODE-RAN");
    const planted = `require("fs").writeFileSync(${JSON.stringify(marker)}, "x"); process.exit(0);`;
    // The old predictable names (any hash) and a guess at the new folder's prefix.
    for (const name of ["llava-ts-tfjs-wasm-ee98f55586040773.worker.cjs", "llava-ts-wasm-.worker.cjs"])
      writeFileSync(join(tmp, name), planted);
    const url = await workerEntryUrl(new URL("../../test/wasm-threads-test-entry.ts", import.meta.url));
    const child = spawnSync(process.execPath, [fileURLToPath(url)], {
      env: { ...process.env, LLAVA_THREADS_TEST_ENTRY: "1", LLAVA_THREADS: "2", TMPDIR: tmp },
      timeout: 60_000,
      encoding: "utf8",
    });
    expect(child.status, child.stderr).toBe(0);
    const report = JSON.parse(child.stdout) as ThreadsReport;
    expect(report.threads).toBe(2);
    expect(report.product).toHaveLength(64 * 200);
    expect(existsSync(marker)).toBe(false);
    const own = report.tmp!.filter((e) => /^llava-ts-wasm-\w{6} /.test(e));
    expect(own).toHaveLength(1);
    expect(own[0].endsWith(" 700")).toBe(true);
    // Only the planted files remain once the process has exited.
    expect(readdirSync(tmp).sort()).toEqual([
      "llava-ts-tfjs-wasm-ee98f55586040773.worker.cjs",
      "llava-ts-wasm-.worker.cjs",
    ]);
  });
});
