import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localPath, memoryFolder, nodeFolder, toModelFolder, urlFolder } from "./model-folder.js";

const BYTES = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

describe("memoryFolder", () => {
  it("reads ranges of Blobs, buffers and text, and names a missing file with what the folder has", async () => {
    const f = memoryFolder({ a: new Blob([BYTES]), b: BYTES.buffer, c: "héllo" });
    expect(await f.read("a", 10, 13)).toEqual(BYTES.slice(10, 13));
    expect(await f.read("b", 998)).toEqual(BYTES.slice(998));
    expect(await f.size("c")).toBe(6); // UTF-8 bytes
    expect(await f.text("c")).toBe("héllo");
    expect(await f.has("d")).toBe(false);
    await expect(f.read("d")).rejects.toThrow("memory/d: no such file (the folder has a, b, c)");
    await expect(f.read("a", 990, 1001)).rejects.toThrow(
      "bytes [990, 1001) are outside the file (1000 bytes)",
    );
  });
});

describe("urlFolder over a local HTTP server", () => {
  let server: Server;
  let base: string;
  const served: { path: string; range?: string; bytes: number }[] = [];
  let honourRanges = true;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url !== "/m/w.bin") {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
      const body = m && honourRanges ? BYTES.subarray(Number(m[1]), Number(m[2]) + 1) : BYTES;
      const head = { "content-length": String(body.length) };
      if (req.method === "HEAD") {
        res.writeHead(200, head).end();
        return;
      }
      served.push({ path: req.url, range: req.headers.range, bytes: body.length });
      if (m && honourRanges) res.writeHead(206, { ...head, "content-range": `bytes ${m[1]}-${m[2]}/1000` });
      else res.writeHead(200, head);
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("reads a range with one Range request and only those bytes", async () => {
    served.length = 0;
    const f = urlFolder(base);
    expect(await f.size("w.bin")).toBe(1000);
    expect(await f.read("w.bin", 100, 164)).toEqual(BYTES.slice(100, 164));
    expect(served).toEqual([{ path: "/m/w.bin", range: "bytes=100-163", bytes: 64 }]);
    expect(await f.has("nope.json")).toBe(false);
    await expect(f.size("nope.json")).rejects.toThrow(`${base}/nope.json: HTTP 404`);
  });

  it("refuses a server that answers a Range request with the whole file", async () => {
    honourRanges = false;
    try {
      await expect(urlFolder(`${base}/`).read("w.bin", 0, 8)).rejects.toThrow(
        /w\.bin: the server ignored the Range request \(HTTP 200\)/,
      );
    } finally {
      honourRanges = true;
    }
  });
});

describe("toModelFolder and localPath", () => {
  it("picks the folder kind from the source", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llava-files-"));
    writeFileSync(join(dir, "x.txt"), "abcdef");
    expect(await nodeFolder(dir).read("x.txt", 2, 4)).toEqual(new TextEncoder().encode("cd"));
    expect(await toModelFolder(dir).text("x.txt")).toBe("abcdef");
    expect(await toModelFolder({ "x.txt": "z" }).text("x.txt")).toBe("z");
    expect(toModelFolder("https://h.example/a").location).toBe("https://h.example/a/");
    expect(() => localPath("http://h/a", "loadAdapter")).toThrow(
      'loadAdapter("http://h/a"): a URL loads asynchronously — pass new URL("http://h/a") and await the result',
    );
  });
});
