// Scans a top-level JSON array in fixed-size chunks and records each element's byte range; nothing is parsed.
// One pass, constant memory; figures for CC3M's size in scripts/index-large.mjs.
import { closeSync, openSync, readSync } from "node:fs";
import { FormatError } from "@llava-ts/core";
import { OffsetBuilder, RecordIndex } from "./record-index.js";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export function indexJsonArray(file: string, chunkSize = 8 << 20): RecordIndex {
  const out = new OffsetBuilder();
  const fd = openSync(file, "r");
  const chunk = Buffer.allocUnsafe(chunkSize);
  let base = 0; // file offset of chunk[0]
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1; // file offset where the current element began
  let primitive = false; // current element is a bare number/true/false/null
  let closed = false; // saw the array's closing bracket
  const openers: number[] = []; // the { and [ open inside the array, innermost last
  const fail = (msg: string, at: number): never => {
    throw new FormatError(`${msg} at byte ${at}`, file);
  };
  const end = (at: number) => {
    out.push(start, at - start);
    start = -1;
    primitive = false;
  };
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunkSize, base);
      if (n === 0) break;
      let i = 0;
      while (i < n) {
        if (inString) {
          // A plain loop beats Buffer.indexOf here: strings are short and each indexOf is a native call.
          for (; i < n; i++) {
            const c = chunk[i];
            if (escaped) escaped = false;
            else if (c === BACKSLASH) escaped = true;
            else if (c === QUOTE) break;
          }
          if (i < n) {
            inString = false;
            i++;
            if (depth === 1 && start >= 0) end(base + i); // a bare string element
          }
          continue;
        }
        const b = chunk[i];
        const at = base + i;
        if (closed) {
          if (!isSpace(b))
            fail(
              `unexpected content after the closing ] (does record ${out.count - 1} have a } or ] too many?)`,
              at,
            );
        } else if (isSpace(b)) {
          if (primitive && depth === 1) end(at);
        } else if (depth === 0) {
          if (b === 0x5b) depth = 1;
          else if (!(at < 3 && (b === 0xef || b === 0xbb || b === 0xbf)))
            fail("expected a JSON array ([)", at);
        } else if (b === QUOTE) {
          inString = true;
          if (depth === 1 && start < 0) start = at;
        } else if (b === 0x7b || b === 0x5b) {
          if (depth === 1 && start < 0) start = at;
          openers.push(b);
          depth++;
        } else if (b === 0x7d || b === 0x5d) {
          const opener = openers.pop(); // the array's own [ is not on the stack
          if (opener === undefined && b === 0x7d)
            fail(`a } after record ${out.count - 1} closes nothing (a } too many in that record?)`, at);
          if (opener !== undefined && opener !== b - 2)
            fail(
              `record ${out.count} (from byte ${start}): a ${String.fromCharCode(b)} closes a ${String.fromCharCode(opener)} (a missing ${String.fromCharCode(opener + 2)} in that record?)`,
              at,
            );
          depth--;
          if (depth === 0) {
            if (primitive) end(at);
            closed = true;
          } else if (depth === 1) end(at + 1);
        } else if (b === 0x2c) {
          if (depth === 1) {
            if (primitive) end(at);
          }
        } else if (depth === 1 && start < 0) {
          start = at;
          primitive = true;
        }
        i++;
      }
      base += n;
    }
  } finally {
    closeSync(fd);
  }
  if (!closed) {
    if (depth === 0) fail("empty file: expected a JSON array", base);
    // The record being scanned never closed: a missing } or ] (or an unclosed string) in it, or a cut file.
    if (start >= 0)
      fail(
        `truncated JSON array: record ${out.count} (from byte ${start}) never closes — a missing } or ] or an unclosed string in it, or a cut file`,
        base,
      );
    fail("truncated JSON array", base);
  }
  return new RecordIndex(file, out.finish());
}
