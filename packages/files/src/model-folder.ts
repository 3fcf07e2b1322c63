// A model folder wherever its files are: on disk (Node), behind a URL (HTTP range requests, so a multi-GB
// shard is read tensor by tensor and never downloaded whole) or in memory (a page's file picker, a test).
// Every loader takes one of these; a plain path string stays the synchronous Node route.
import { LlavaError } from "@llava-ts/errors";
import { hasNodeBuiltins, nodeBuiltin } from "./node-builtins.js";

/** One file's contents in memory: a Blob (a File from an <input>), bytes, or text. */
export type FileData = Blob | ArrayBuffer | ArrayBufferView | string;

/** A folder of named files with random access: the one I/O interface every loader reads through. */
export interface ModelFolder {
  /** Where the files are (a path, a URL, "memory"), for messages. */
  readonly location: string;
  /** Where one file is, for messages. */
  describe(name: string): string;
  has(name: string): Promise<boolean>;
  /** Size in bytes; an error naming the file when it is absent. */
  size(name: string): Promise<number>;
  /** Bytes [start, end) of `name` (default: the whole file). */
  read(name: string, start?: number, end?: number): Promise<Uint8Array>;
  text(name: string): Promise<string>;
  /** The file names, where the folder can list them (an HTTP server cannot). */
  list(): Promise<string[] | undefined>;
}

/** What every `fromPretrained(…)` that is async accepts: a path or URL string, a URL, a folder, or files in memory. */
export type FolderSource = string | URL | ModelFolder | Record<string, FileData> | Map<string, FileData>;

/** The sources that load asynchronously: everything but a path string. */
export type AsyncFolderSource = Exclude<FolderSource, string>;

/**
 * `source` as a path for a synchronous loader; an http(s) URL string is refused with what to do instead
 * (`caller` names the function in the message).
 */
export function localPath(source: string, caller: string): string {
  if (isHttpUrl(source))
    throw new LlavaError(
      `${caller}("${source}"): a URL loads asynchronously — pass new URL("${source}") and await the result`,
    );
  return source;
}

export function isModelFolder(x: unknown): x is ModelFolder {
  return (
    typeof (x as ModelFolder | null)?.read === "function" && typeof (x as ModelFolder).has === "function"
  );
}

/** Whether `s` is an http(s) URL rather than a path. */
export function isHttpUrl(s: string | URL): boolean {
  return /^https?:\/\//i.test(String(s));
}

/**
 * The folder `source` names: http(s) → urlFolder, a path or file: URL → nodeFolder (in a page, a path is
 * resolved against the page's URL), a record → memoryFolder.
 */
export function toModelFolder(source: FolderSource): ModelFolder {
  if (isModelFolder(source)) return source;
  if (source instanceof URL) {
    if (source.protocol === "file:")
      return nodeFolder(nodeBuiltin("node:url", `reading ${source}`).fileURLToPath(source));
    return urlFolder(source);
  }
  if (typeof source === "string") {
    if (isHttpUrl(source)) return urlFolder(source);
    // In a page a string that is not a URL is a path on the page's server, as fetch() takes it.
    const page = (globalThis as { location?: { href: string } }).location;
    if (!hasNodeBuiltins() && page) return urlFolder(new URL(source, page.href));
    return nodeFolder(source);
  }
  return memoryFolder(source);
}

const decoder = new TextDecoder();

function checkRange(where: string, size: number, start: number, end: number): void {
  if (
    !(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end <= size)
  )
    throw new LlavaError(`${where}: bytes [${start}, ${end}) are outside the file (${size} bytes)`);
}

/** Files held in memory, e.g. `{ "config.json": file1, "model.safetensors": file2 }` from a file input. */
export function memoryFolder(
  files: Record<string, FileData> | Map<string, FileData>,
  location = "memory",
): ModelFolder {
  const map = new Map(files instanceof Map ? files : Object.entries(files));
  const get = (name: string): FileData => {
    const f = map.get(name);
    if (f === undefined)
      throw new LlavaError(
        `${location}/${name}: no such file (the folder has ${[...map.keys()].join(", ") || "no files"})`,
      );
    return f;
  };
  const bytesOf = (f: Exclude<FileData, Blob>): Uint8Array =>
    typeof f === "string"
      ? new TextEncoder().encode(f)
      : ArrayBuffer.isView(f)
        ? new Uint8Array(f.buffer, f.byteOffset, f.byteLength)
        : new Uint8Array(f);
  const size = (name: string): number => {
    const f = get(name);
    return f instanceof Blob ? f.size : bytesOf(f).byteLength;
  };
  return {
    location,
    describe: (name) => `${location}/${name}`,
    has: async (name) => map.has(name),
    size: async (name) => size(name),
    async read(name, start = 0, end) {
      const f = get(name);
      const total = size(name);
      const stop = end ?? total;
      checkRange(`${location}/${name}`, total, start, stop);
      if (f instanceof Blob) return new Uint8Array(await f.slice(start, stop).arrayBuffer());
      // A copy, as a file read would give: the caller may keep or change it.
      return bytesOf(f).slice(start, stop);
    },
    async text(name) {
      const f = get(name);
      return typeof f === "string" ? f : decoder.decode(await this.read(name));
    },
    list: async () => [...map.keys()],
  };
}

export interface UrlFolderOptions {
  /** The fetch to use (default globalThis.fetch): add headers (an HF token), count bytes, … */
  fetch?: typeof fetch;
}

/**
 * The folder at `base` (`https://host/models/llava/`, a trailing slash is added). Whole small files are
 * plain GETs; `read(name, start, end)` is a `Range: bytes=start-(end-1)` request, and a server that
 * answers it with the whole file (200 instead of 206) is an error rather than a silent multi-GB download.
 */
export function urlFolder(base: string | URL, options: UrlFolderOptions = {}): ModelFolder {
  const root = new URL(String(base).endsWith("/") ? String(base) : `${base}/`);
  const doFetch = options.fetch ?? globalThis.fetch;
  const sizes = new Map<string, Promise<number | undefined>>();
  const url = (name: string) => new URL(name.split("/").map(encodeURIComponent).join("/"), root).href;

  async function request(name: string, init?: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await doFetch(url(name), init);
    } catch (e) {
      throw new LlavaError(`${url(name)}: request failed (${(e as Error).message})`);
    }
    return res;
  }
  /** Content length from a HEAD request; undefined for a missing file. */
  function probe(name: string): Promise<number | undefined> {
    let p = sizes.get(name);
    if (!p) {
      p = request(name, { method: "HEAD" }).then((res) => {
        if (res.status === 404 || res.status === 410) return undefined;
        if (!res.ok) throw new LlavaError(`${url(name)}: HTTP ${res.status} ${res.statusText}`);
        const n = Number(res.headers.get("content-length"));
        if (!Number.isSafeInteger(n) || n < 0)
          throw new LlavaError(
            `${url(name)}: the server gives no Content-Length, so the file cannot be read in ranges`,
          );
        return n;
      });
      sizes.set(name, p);
    }
    return p;
  }
  return {
    location: root.href,
    describe: url,
    has: async (name) => (await probe(name)) !== undefined,
    async size(name) {
      const n = await probe(name);
      if (n === undefined) throw new LlavaError(`${url(name)}: HTTP 404, no such file`);
      return n;
    },
    async read(name, start, end) {
      if (start === undefined && end === undefined) {
        const res = await request(name);
        if (!res.ok) throw new LlavaError(`${url(name)}: HTTP ${res.status} ${res.statusText}`);
        return new Uint8Array(await res.arrayBuffer());
      }
      const from = start ?? 0;
      const to = end ?? (await this.size(name));
      if (to === from) return new Uint8Array(0);
      const res = await request(name, { headers: { Range: `bytes=${from}-${to - 1}` } });
      if (res.status !== 206) {
        // Not reading the body: the connection is closed instead of downloading the whole file.
        await res.body?.cancel();
        throw new LlavaError(
          res.ok
            ? `${url(name)}: the server ignored the Range request (HTTP ${res.status}); serve the folder with range support (any static server: nginx, vite, python -m http.server ≥ 3.12 …)`
            : `${url(name)}: HTTP ${res.status} ${res.statusText}`,
        );
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.byteLength !== to - from)
        throw new LlavaError(`${url(name)}: asked for bytes [${from}, ${to}), received ${bytes.byteLength}`);
      return bytes;
    },
    async text(name) {
      return decoder.decode(await this.read(name));
    },
    list: async () => undefined,
  };
}

/** A folder on disk (Node only). */
export function nodeFolder(dir: string): ModelFolder {
  const needs = `reading the folder ${dir}`;
  const { join } = nodeBuiltin("node:path", needs);
  const fs = () => nodeBuiltin("node:fs/promises", needs);
  const stat = async (name: string) => {
    try {
      const s = await fs().stat(join(dir, name));
      return s.isFile() ? s : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    location: dir,
    describe: (name) => join(dir, name),
    has: async (name) => (await stat(name)) !== undefined,
    async size(name) {
      const s = await stat(name);
      if (!s) throw new LlavaError(`${join(dir, name)}: no such file`);
      return s.size;
    },
    async read(name, start, end) {
      const path = join(dir, name);
      if (start === undefined && end === undefined) return new Uint8Array(await fs().readFile(path));
      const total = await this.size(name);
      const from = start ?? 0;
      const to = end ?? total;
      checkRange(path, total, from, to);
      const out = new Uint8Array(to - from);
      const handle = await fs().open(path, "r");
      try {
        let done = 0;
        while (done < out.byteLength) {
          const { bytesRead } = await handle.read(
            out,
            done,
            Math.min(out.byteLength - done, 1 << 30),
            from + done,
          );
          if (bytesRead === 0) throw new LlavaError(`${path}: unexpected end of file at byte ${from + done}`);
          done += bytesRead;
        }
      } finally {
        await handle.close();
      }
      return out;
    },
    text: (name) => fs().readFile(join(dir, name), "utf8"),
    async list() {
      const entries = await fs().readdir(dir, { withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => e.name);
    },
  };
}
