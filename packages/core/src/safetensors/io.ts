// Positioned, chunked file I/O: one fs call moves at most ~2 GB, and tensors of 7B models get bigger.

import { nodeBuiltin } from "@llava-ts/files";
import { FormatError } from "../errors.js";

/** Largest single read/write; below Node's 2^31-1 per-call limit. Tests lower it to exercise the loop. */
export const io = { chunkBytes: 1 << 30 };

/** Reads exactly `length` bytes at `position` into `into`, else a fresh (8-byte aligned) buffer. */
export function readExactly(
  fd: number,
  position: number,
  length: number,
  file: string,
  tensor?: string,
  into?: Uint8Array,
): Uint8Array {
  if (into && into.byteLength < length)
    throw new FormatError(`a ${into.byteLength}-byte buffer cannot take ${length} bytes`, file, tensor);
  const { fstatSync, readSync } = nodeBuiltin("node:fs", `reading ${file}`);
  // Unzeroed memory (every byte is overwritten below or we throw), in its own buffer at offset 0.
  const out = into ?? new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(io.chunkBytes, length - done), position + done);
    if (n === 0) {
      // Only reachable if the file shrank after its header was validated.
      const size = fstatSync(fd).size;
      throw new FormatError(
        `unexpected end of file reading bytes [${position}, ${position + length}) (file is ${size} bytes)`,
        file,
        tensor,
      );
    }
    done += n;
  }
  return into ? out.subarray(0, length) : out;
}

/** Writes all of `bytes` at the file's current position. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  const { writeSync } = nodeBuiltin("node:fs", "writing a file");
  let done = 0;
  while (done < bytes.byteLength) {
    done += writeSync(fd, bytes, done, Math.min(io.chunkBytes, bytes.byteLength - done));
  }
}
