// Set-up shared by the trainer's tests: the backend started before a file's tests run, and the temporary
// folders they make removed once they are done.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { afterAll, beforeAll } from "vitest";

/** Call at a test file's top level; returns a function that makes a new temporary folder named `prefix…`. */
export function useBackendAndTempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  beforeAll(async () => {
    await initBackend();
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
