// Random access into a zip through its central directory, without extracting it. Follows APPNOTE 6.3:
// End Of Central Directory (EOCD), ZIP64 EOCD + locator and ZIP64 extra fields (CC3M's images.zip is 6.5 GB).
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { DataError, FormatError, formatBytes } from "@llava-ts/core";
import { crc32 } from "./crc32.js";

/** One member as the central directory describes it. */
export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflate
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const MAX32 = 0xffffffff;

/** Largest member read by default: 256 MiB, far above any image file, far below what exhausts memory. */
export const MAX_ZIP_MEMBER_BYTES = 256 * 2 ** 20;

export interface ZipReaderOptions {
  /** Members larger than this (inflated) are refused before any of it is read; default 256 MiB. */
  maxMemberBytes?: number;
}

export class ZipReader {
  private fd: number;
  // name → slot; the fields live in typed arrays (CC3M's zip has 595K members: objects would cost ~3× more).
  private readonly slots = new Map<string, number>();
  private fields = {
    method: new Uint8Array(0),
    crc: new Uint32Array(0),
    csize: new Float64Array(0),
    size: new Float64Array(0),
    offset: new Float64Array(0),
  };

  private constructor(
    readonly path: string,
    readonly maxMemberBytes: number,
  ) {
    this.fd = openSync(path, "r");
  }

  /** Opens `path` and reads its central directory (one read of the directory, nothing else). */
  static open(path: string, options: ZipReaderOptions = {}): ZipReader {
    const zip = new ZipReader(path, options.maxMemberBytes ?? MAX_ZIP_MEMBER_BYTES);
    try {
      zip.readCentralDirectory();
    } catch (err) {
      zip.close();
      throw err;
    }
    return zip;
  }

  get size(): number {
    return this.slots.size;
  }

  names(): IterableIterator<string> {
    return this.slots.keys();
  }

  entry(name: string): ZipEntry | undefined {
    const k = this.slots.get(name);
    if (k === undefined) return undefined;
    const f = this.fields;
    return {
      name,
      method: f.method[k],
      crc32: f.crc[k],
      compressedSize: f.csize[k],
      size: f.size[k],
      localHeaderOffset: f.offset[k],
    };
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  /**
   * The member's bytes, inflated and checked against its CRC-32. Memory stays bounded whatever the zip
   * claims: a member over `maxMemberBytes` is refused up front, and inflating stops at the declared size
   * (a zip bomb that lies about its size fails there instead of filling memory).
   */
  read(name: string): Buffer {
    const e = this.entry(name);
    if (!e) throw new DataError(`no member "${name}" in the zip`, this.path, undefined, "missing_image");
    const largest = Math.max(e.size, e.method === 0 ? e.compressedSize : 0);
    if (largest > this.maxMemberBytes)
      throw new DataError(
        `"${name}" is ${formatBytes(largest)}, more than the ${formatBytes(this.maxMemberBytes)} a member may have`,
        this.path,
        undefined,
        "image_too_large",
      );
    if (e.method === 8 && e.compressedSize > Math.max(1024, 2 * e.size))
      // Deflate never needs much more than the data it encodes (5 bytes per 64 kB stored block).
      throw new DataError(
        `"${name}" has ${e.compressedSize} compressed bytes for ${e.size} bytes of data`,
        this.path,
        undefined,
        "undecodable_image",
      );
    const local = this.readAt(e.localHeaderOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL_SIG)
      throw new FormatError(`bad local header signature for "${name}" at ${e.localHeaderOffset}`, this.path);
    // The local header's name/extra lengths may differ from the central directory's: use its own.
    const dataStart = e.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    const raw = this.readAt(dataStart, e.compressedSize);
    let data: Buffer;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
      } catch (err) {
        const past = (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
        throw new DataError(
          past
            ? `"${name}" inflates past its declared ${e.size} bytes`
            : `cannot inflate "${name}": ${(err as Error).message}`,
          this.path,
          undefined,
          "undecodable_image",
        );
      }
    } else
      throw new FormatError(
        `"${name}" uses compression method ${e.method}; only 0 (stored) and 8 (deflate) are supported`,
        this.path,
      );
    if (data.length !== e.size)
      throw new DataError(
        `"${name}" inflated to ${data.length} bytes, expected ${e.size}`,
        this.path,
        undefined,
        "undecodable_image",
      );
    const crc = crc32(data);
    if (crc !== e.crc32)
      throw new DataError(
        `CRC-32 mismatch for "${name}": expected ${e.crc32.toString(16)}, found ${crc.toString(16)}`,
        this.path,
        undefined,
        "undecodable_image",
      );
    return data;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private readAt(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0)
        throw new FormatError(`unexpected end of file reading ${length} bytes at ${position}`, this.path);
      done += n;
    }
    return buf;
  }

  private readCentralDirectory(): void {
    const fileSize = fstatSync(this.fd).size;
    // The EOCD is 22 bytes plus a comment of up to 65535 bytes, at the very end.
    const tailLen = Math.min(fileSize, 22 + 0xffff);
    const tail = this.readAt(fileSize - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new FormatError("not a zip file: no End Of Central Directory record", this.path);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    // ZIP64: a locator sits right before the EOCD and points at the ZIP64 EOCD record.
    const locPos = eocd - 20;
    if (locPos >= 0 && tail.readUInt32LE(locPos) === ZIP64_LOCATOR_SIG) {
      const z64Offset = Number(tail.readBigUInt64LE(locPos + 8));
      const z64 = this.readAt(z64Offset, 56);
      if (z64.readUInt32LE(0) !== ZIP64_EOCD_SIG)
        throw new FormatError(`bad ZIP64 End Of Central Directory signature at ${z64Offset}`, this.path);
      count = Number(z64.readBigUInt64LE(32));
      cdSize = Number(z64.readBigUInt64LE(40));
      cdOffset = Number(z64.readBigUInt64LE(48));
    }
    const cd = this.readAt(cdOffset, cdSize);
    const f = {
      method: new Uint8Array(count),
      crc: new Uint32Array(count),
      csize: new Float64Array(count),
      size: new Float64Array(count),
      offset: new Float64Array(count),
    };
    this.fields = f;
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== CENTRAL_SIG)
        throw new FormatError(`bad central directory entry ${i} at offset ${cdOffset + p}`, this.path);
      const flags = cd.readUInt16LE(p + 8);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const nameBuf = cd.subarray(p + 46, p + 46 + nameLen);
      // Bit 11 says UTF-8; otherwise CP437, which equals latin1 for the ASCII names datasets use.
      const name = nameBuf.toString(flags & 0x800 ? "utf8" : "latin1");
      const entry: ZipEntry = {
        name,
        method: cd.readUInt16LE(p + 10),
        crc32: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
      };
      if (entry.size === MAX32 || entry.compressedSize === MAX32 || entry.localHeaderOffset === MAX32)
        this.applyZip64Extra(entry, cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
      if (entry.method > 255)
        throw new FormatError(`"${name}" uses compression method ${entry.method}`, this.path);
      f.method[i] = entry.method;
      f.crc[i] = entry.crc32;
      f.csize[i] = entry.compressedSize;
      f.size[i] = entry.size;
      f.offset[i] = entry.localHeaderOffset;
      if (!name.endsWith("/")) this.slots.set(name, i);
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** ZIP64 extra field (id 1): 8-byte values present only for the header fields that are 0xFFFFFFFF, in order. */
  private applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
    let q = 0;
    while (q + 4 <= extra.length) {
      const id = extra.readUInt16LE(q);
      const len = extra.readUInt16LE(q + 2);
      if (id === 0x0001) {
        let r = q + 4;
        const next = () => {
          const v = Number(extra.readBigUInt64LE(r));
          r += 8;
          return v;
        };
        if (entry.size === MAX32) entry.size = next();
        if (entry.compressedSize === MAX32) entry.compressedSize = next();
        if (entry.localHeaderOffset === MAX32) entry.localHeaderOffset = next();
        return;
      }
      q += 4 + len;
    }
    throw new FormatError(`"${entry.name}" has 32-bit overflow fields but no ZIP64 extra field`, this.path);
  }
}
