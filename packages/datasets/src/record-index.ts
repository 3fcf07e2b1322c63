// Byte ranges of the records in a JSON array or JSONL file, so `read(i)` parses one record on demand and the
// file's text is never held in memory (CC3M's chat.json is 211 MB; the index for 595,375 records is ~7 MB).
import { closeSync, openSync, readSync } from "node:fs";
import { DataError } from "@llava-ts/core";

/** Plain typed arrays: cheap to copy to worker threads so they need not rescan the file. */
export interface RecordOffsets {
  offsets: Float64Array; // byte offset of record i (float64: exact past 4 GB)
  lengths: Uint32Array; // byte length of record i
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Offset of the first byte that does not start (or continue) a well-formed UTF-8 sequence. */
function firstInvalidUtf8(buf: Uint8Array): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i];
    const n =
      b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0) return i;
    try {
      UTF8.decode(buf.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return 0;
}

export class RecordIndex {
  private fd = -1;

  constructor(
    readonly file: string,
    readonly ranges: RecordOffsets,
  ) {
    if (ranges.offsets.length !== ranges.lengths.length)
      throw new Error(`${file}: ${ranges.offsets.length} offsets but ${ranges.lengths.length} lengths`);
  }

  get length(): number {
    return this.ranges.offsets.length;
  }

  /** The raw text of record `i`. */
  text(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new RangeError(`${this.file}: record ${i} out of range [0, ${this.length})`);
    if (this.fd < 0) this.fd = openSync(this.file, "r");
    const len = this.ranges.lengths[i];
    const buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, buf, done, len - done, this.ranges.offsets[i] + done);
      if (n === 0)
        throw new DataError(
          "file is shorter than its index (changed since indexing?)",
          this.file,
          i,
          "malformed_record",
        );
      done += n;
    }
    try {
      return UTF8.decode(buf);
    } catch {
      // Python's json reads the file as UTF-8 and raises; a silent U+FFFD would train on damaged text.
      const at = firstInvalidUtf8(buf);
      throw new DataError(
        `not valid UTF-8 (byte 0x${buf[at].toString(16).padStart(2, "0")} at byte ${this.ranges.offsets[i] + at} of the file)`,
        this.file,
        i,
        "malformed_record",
      );
    }
  }

  /** Record `i` parsed; a record that is not valid JSON is a DataError with reason "malformed_record". */
  read(i: number): unknown {
    const text = this.text(i);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new DataError(`invalid JSON: ${(err as Error).message}`, this.file, i, "malformed_record");
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Growable pair of typed arrays for the scanners. */
export class OffsetBuilder {
  private offsets = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  count = 0;

  push(offset: number, length: number): void {
    if (this.count === this.offsets.length) {
      const o = new Float64Array(this.count * 2);
      o.set(this.offsets);
      this.offsets = o;
      const l = new Uint32Array(this.count * 2);
      l.set(this.lengths);
      this.lengths = l;
    }
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.count++;
  }

  /** Exact-size copies, so the builder's slack is not kept alive. */
  finish(): RecordOffsets {
    return { offsets: this.offsets.slice(0, this.count), lengths: this.lengths.slice(0, this.count) };
  }
}
