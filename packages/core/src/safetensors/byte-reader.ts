// Where a SafetensorsFile's bytes come from: a file descriptor (Node, read on demand with pread) or the
// byte ranges fetched ahead from a ModelFolder (a URL, a Blob), since the readers above are synchronous.
import { type ModelFolder, nodeBuiltin } from "@llava-ts/files";
import { FormatError, LlavaError } from "../errors.js";
import { readExactly } from "./io.js";

export interface ByteReader {
  /** The file's size in bytes. */
  readonly size: number;
  /** `length` bytes at `position` (into `into` when given); `file`/`tensor` name them in errors. */
  read(position: number, length: number, file: string, tensor?: string, into?: Uint8Array): Uint8Array;
  close(): void;
}

/** A file on disk through its descriptor. */
export class FdReader implements ByteReader {
  readonly size: number;
  private fd: number | undefined;
  constructor(readonly path: string) {
    const fs = nodeBuiltin("node:fs", `reading ${path}`);
    const fd = fs.openSync(path, "r");
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      fs.closeSync(fd);
      throw new FormatError("is a folder, not a .safetensors file", path);
    }
    this.fd = fd;
    this.size = stat.size;
  }
  read(position: number, length: number, file: string, tensor?: string, into?: Uint8Array): Uint8Array {
    if (this.fd === undefined) throw new LlavaError(`${file}: read of "${tensor ?? "header"}" after close()`);
    return readExactly(this.fd, position, length, file, tensor, into);
  }
  close(): void {
    if (this.fd !== undefined) nodeBuiltin("node:fs", `closing ${this.path}`).closeSync(this.fd);
    this.fd = undefined;
  }
}

interface Segment {
  start: number;
  bytes: Uint8Array;
}

/**
 * A file of a ModelFolder of which only fetched ranges are in memory: the header, then the tensors a loader
 * asked for (`fetch`). With `release`, a range read whole (a tensor copied into the heap) is dropped at
 * once, so loading holds at most the not-yet-loaded tensors' bytes besides the model.
 */
export class FetchedRanges implements ByteReader {
  private segments: Segment[] = [];
  private closed = false;
  constructor(
    readonly folder: ModelFolder,
    readonly name: string,
    readonly size: number,
    private release = false,
  ) {}

  /** Fetches bytes [start, end) (one range request) unless already held. */
  async fetch(start: number, end: number): Promise<void> {
    if (this.find(start, end - start)) return;
    const bytes = await this.folder.read(this.name, start, end);
    this.segments.push({ start, bytes });
  }

  /** Keeps bytes already fetched (the 8-byte length prefix) as the range starting at `start`. */
  hold(start: number, bytes: Uint8Array): void {
    this.segments.push({ start, bytes });
  }

  /** Whether whole-range reads drop their range (loading) or keep it (offloaded weights read on use). */
  setRelease(release: boolean): void {
    this.release = release;
  }

  /** Bytes held in memory. */
  heldBytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes.byteLength, 0);
  }

  private find(position: number, length: number): Segment | undefined {
    return this.segments.find(
      (s) => s.start <= position && position + length <= s.start + s.bytes.byteLength,
    );
  }

  read(position: number, length: number, file: string, tensor?: string, into?: Uint8Array): Uint8Array {
    if (this.closed) throw new LlavaError(`${file}: read of "${tensor ?? "header"}" after close()`);
    const seg = this.find(position, length);
    if (!seg)
      throw new LlavaError(
        `${file}: bytes [${position}, ${position + length})${tensor ? ` of tensor "${tensor}"` : ""} were not fetched (prefetch the tensors before reading them)`,
      );
    const view = seg.bytes.subarray(position - seg.start, position - seg.start + length);
    if (into) {
      if (into.byteLength < length)
        throw new LlavaError(`${file}: a ${into.byteLength}-byte buffer cannot take ${length} bytes`);
      into.set(view);
      return into.subarray(0, length);
    }
    if (this.release && view.byteLength === seg.bytes.byteLength && seg.bytes.byteOffset === 0) {
      // Handed over: nobody else holds it any more.
      this.segments.splice(this.segments.indexOf(seg), 1);
      return seg.bytes;
    }
    return view.slice(); // a fresh, aligned copy, as a file read gives
  }

  close(): void {
    this.segments = [];
    this.closed = true;
  }
}
