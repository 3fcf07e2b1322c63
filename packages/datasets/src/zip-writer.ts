// A small streaming zip writer (stored or deflate) for the synthetic dataset and tests. `zip64: true` writes
// ZIP64 records even for small files, so the reader's ZIP64 path is tested without a 4 GB file.
import { closeSync, openSync, writeSync } from "node:fs";
import { deflateRawSync } from "node:zlib";
import { crc32 } from "./crc32.js";

export type ZipMethod = "store" | "deflate";

export interface ZipWriterOptions {
  /** Default method for members; "deflate" falls back to "store" when it would not shrink the data. */
  method?: ZipMethod;
  zip64?: boolean;
}

interface Written {
  name: Buffer;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
}

// 1980-01-01 00:00: a fixed timestamp keeps the output byte-identical for a given input.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const MAX32 = 0xffffffff;

export class ZipWriter {
  private fd: number;
  private offset = 0;
  private readonly written: Written[] = [];
  private readonly names = new Set<string>();

  constructor(
    readonly path: string,
    private readonly options: ZipWriterOptions = {},
  ) {
    this.fd = openSync(path, "w");
  }

  add(name: string, data: Uint8Array, method: ZipMethod = this.options.method ?? "deflate"): void {
    if (this.fd < 0) throw new Error(`${this.path}: zip writer is closed`);
    if (this.names.has(name)) throw new Error(`${this.path}: duplicate zip member "${name}"`);
    this.names.add(name);
    const crc = crc32(data);
    let body: Uint8Array = data;
    let code = 0;
    if (method === "deflate") {
      const deflated = deflateRawSync(data);
      if (deflated.length < data.length) {
        body = deflated;
        code = 8;
      }
    }
    const nameBuf = Buffer.from(name, "utf8");
    const z64 = this.options.zip64 === true;
    if (!z64 && (this.offset >= MAX32 || data.length >= MAX32))
      throw new Error(`${this.path}: "${name}" needs ZIP64 (offset or size ≥ 4 GB): pass { zip64: true }`);
    const extra = z64 ? zip64Extra([data.length, body.length]) : Buffer.alloc(0);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(z64 ? 45 : 20, 4);
    h.writeUInt16LE(0x800, 6); // UTF-8 names
    h.writeUInt16LE(code, 8);
    h.writeUInt16LE(DOS_TIME, 10);
    h.writeUInt16LE(DOS_DATE, 12);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(z64 ? MAX32 : body.length, 18);
    h.writeUInt32LE(z64 ? MAX32 : data.length, 22);
    h.writeUInt16LE(nameBuf.length, 26);
    h.writeUInt16LE(extra.length, 28);
    const offset = this.offset;
    this.write(h);
    this.write(nameBuf);
    this.write(extra);
    this.write(body);
    this.written.push({
      name: nameBuf,
      method: code,
      crc,
      compressedSize: body.length,
      size: data.length,
      offset,
    });
  }

  /** Writes the central directory and the end records, and closes the file. */
  close(): void {
    if (this.fd < 0) return;
    const z64 = this.options.zip64 === true;
    const cdStart = this.offset;
    for (const w of this.written) {
      const extra = z64 ? zip64Extra([w.size, w.compressedSize, w.offset]) : Buffer.alloc(0);
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE((3 << 8) | (z64 ? 45 : 20), 4); // made by: Unix
      c.writeUInt16LE(z64 ? 45 : 20, 6);
      c.writeUInt16LE(0x800, 8);
      c.writeUInt16LE(w.method, 10);
      c.writeUInt16LE(DOS_TIME, 12);
      c.writeUInt16LE(DOS_DATE, 14);
      c.writeUInt32LE(w.crc, 16);
      c.writeUInt32LE(z64 ? MAX32 : w.compressedSize, 20);
      c.writeUInt32LE(z64 ? MAX32 : w.size, 24);
      c.writeUInt16LE(w.name.length, 28);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
      c.writeUInt32LE(z64 ? MAX32 : w.offset, 42);
      this.write(c);
      this.write(w.name);
      this.write(extra);
    }
    const cdSize = this.offset - cdStart;
    const count = this.written.length;
    // More than 65,534 members (CC3M has 595K) or a directory past 4 GB need the ZIP64 end records.
    const z64End = z64 || count >= 0xffff || cdStart >= MAX32 || cdSize >= MAX32;
    if (z64End) {
      const z64Offset = this.offset;
      const r = Buffer.alloc(56);
      r.writeUInt32LE(0x06064b50, 0);
      r.writeBigUInt64LE(44n, 4); // size of the rest of this record
      r.writeUInt16LE(45, 12);
      r.writeUInt16LE(45, 14);
      r.writeBigUInt64LE(BigInt(count), 24);
      r.writeBigUInt64LE(BigInt(count), 32);
      r.writeBigUInt64LE(BigInt(cdSize), 40);
      r.writeBigUInt64LE(BigInt(cdStart), 48);
      this.write(r);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(z64Offset), 8);
      loc.writeUInt32LE(1, 16);
      this.write(loc);
    }
    const e = Buffer.alloc(22);
    e.writeUInt32LE(0x06054b50, 0);
    e.writeUInt16LE(z64End ? 0xffff : count, 8);
    e.writeUInt16LE(z64End ? 0xffff : count, 10);
    e.writeUInt32LE(z64End ? MAX32 : cdSize, 12);
    e.writeUInt32LE(z64End ? MAX32 : cdStart, 16);
    this.write(e);
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }

  // Small headers are batched: one syscall per member made writing CC3M-sized zips syscall-bound.
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  private write(buf: Uint8Array): void {
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    this.offset += buf.length;
    if (this.pendingBytes >= 1 << 20) this.flush();
  }

  private flush(): void {
    const all = Buffer.concat(this.pending);
    let done = 0;
    while (done < all.length) done += writeSync(this.fd, all, done, all.length - done);
    this.pending = [];
    this.pendingBytes = 0;
  }
}

/** Writes `entries` into a new zip at `path`. */
export function writeZip(
  path: string,
  entries: Iterable<{ name: string; data: Uint8Array; method?: ZipMethod }>,
  options: ZipWriterOptions = {},
): void {
  const zip = new ZipWriter(path, options);
  for (const e of entries) zip.add(e.name, e.data, e.method);
  zip.close();
}

function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  for (let i = 0; i < values.length; i++) b.writeBigUInt64LE(BigInt(values[i]), 4 + 8 * i);
  return b;
}
