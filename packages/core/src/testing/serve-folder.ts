// A static HTTP server on 127.0.0.1 for tests: serves a folder with HEAD, GET and single Range requests (as
// any static server a page loads a model from) and records every body it sends, so a test can assert that a
// loader fetched only what it needed.
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";

export interface ServedRequest {
  /** The URL path, e.g. "/hf/llava/model.safetensors". */
  path: string;
  /** The Range header, if any. */
  range?: string;
  /** Body bytes sent. */
  bytes: number;
}

export interface FolderServer {
  /** "http://127.0.0.1:<port>" (no trailing slash). */
  readonly url: string;
  /** Every GET answered, in order. */
  readonly served: ServedRequest[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".jpg": "image/jpeg",
};

/**
 * Serves `root` until close(): one folder, or URL prefixes mapped to folders (`{ "/": site, "/fixtures/":
 * fixtures }`, the longest prefix wins). Paths outside a folder are 404.
 */
export async function serveFolder(root: string | Record<string, string>): Promise<FolderServer> {
  const mounts = Object.entries(typeof root === "string" ? { "/": root } : root).sort(
    (a, b) => b[0].length - a[0].length,
  );
  const served: ServedRequest[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const [prefix, dir] = mounts.find(([p]) => path.startsWith(p)) ?? ["/", ""];
    const root = dir;
    let file = normalize(join(root, path.slice(prefix.length)));
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (
      !root ||
      !(file === root || file.startsWith(root.endsWith(sep) ? root : root + sep)) ||
      !existsSync(file)
    ) {
      res.writeHead(404).end();
      return;
    }
    const size = statSync(file).size;
    const headers = {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "accept-ranges": "bytes",
      // SharedArrayBuffer (tfjs' threaded wasm) needs a cross-origin isolated page.
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    };
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = size - 1;
    if (m) {
      start = Number(m[1]);
      end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
      if (start > end) {
        res.writeHead(416, { "content-range": `bytes */${size}` }).end();
        return;
      }
    }
    const length = end - start + 1;
    if (req.method === "HEAD") {
      res.writeHead(200, { ...headers, "content-length": String(size) }).end();
      return;
    }
    served.push({ path, range: req.headers.range, bytes: length });
    res.writeHead(m ? 206 : 200, {
      ...headers,
      "content-length": String(length),
      ...(m ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
    });
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
