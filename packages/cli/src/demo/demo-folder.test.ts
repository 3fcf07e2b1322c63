// The demo's working folder: made and marked by the demo; a folder it did not make is never emptied.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureIO } from "../../test/tiny-llava.js";
import { main } from "../main.js";
import { DEMO_MARKER, prepareDemoFolder } from "./demo-folder.js";

describe("prepareDemoFolder", () => {
  const root = mkdtempSync(join(tmpdir(), "llava-demo-folder-"));

  it("creates a new folder, and takes an empty one", () => {
    const fresh = join(root, "a/b");
    prepareDemoFolder(fresh);
    expect(existsSync(join(fresh, DEMO_MARKER))).toBe(true);
    const empty = join(root, "empty");
    mkdirSync(empty);
    prepareDemoFolder(empty);
    expect(existsSync(join(empty, DEMO_MARKER))).toBe(true);
  });

  it("wipes a folder an earlier demo made", () => {
    const dir = join(root, "earlier");
    prepareDemoFolder(dir);
    writeFileSync(join(dir, "old-run.txt"), "x");
    prepareDemoFolder(dir);
    expect(existsSync(join(dir, "old-run.txt"))).toBe(false);
    expect(existsSync(join(dir, DEMO_MARKER))).toBe(true);
  });

  it("refuses a non-empty folder it did not make, and leaves its files alone", async () => {
    const dir = join(root, "photos");
    mkdirSync(dir);
    writeFileSync(join(dir, "cat.jpg"), "not a demo file");
    expect(() => prepareDemoFolder(dir)).toThrow(/non-empty folder that llava demo did not create/);
    const io = captureIO();
    expect(await main(["demo", "--quick", "--out", dir], io)).toBe(2);
    expect(io.err()).toContain(`llava demo: --out ${dir} is a non-empty folder`);
    expect(readFileSync(join(dir, "cat.jpg"), "utf8")).toBe("not a demo file");
    expect(existsSync(join(dir, DEMO_MARKER))).toBe(false);
  });

  it("refuses a file", () => {
    const file = join(root, "file.txt");
    writeFileSync(file, "x");
    expect(() => prepareDemoFolder(file)).toThrow(/is a file, not a folder/);
  });
});
