// Records the byte range of every non-blank line of a JSONL file; lines are parsed one at a time on demand.
import { closeSync, openSync, readSync } from "node:fs";
import { OffsetBuilder, RecordIndex } from "./record-index.js";

export function indexJsonLines(file: string, chunkSize = 8 << 20): RecordIndex {
  const out = new OffsetBuilder();
  const fd = openSync(file, "r");
  const chunk = Buffer.allocUnsafe(chunkSize);
  let base = 0;
  let lineStart = 0;
  let blank = true; // only whitespace so far on this line
  const endLine = (at: number) => {
    if (!blank) out.push(lineStart, at - lineStart);
    lineStart = at + 1;
    blank = true;
  };
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunkSize, base);
      if (n === 0) break;
      let i = 0;
      while (i < n) {
        let nl = chunk.indexOf(0x0a, i);
        if (nl < 0 || nl >= n) nl = n;
        if (blank) {
          for (let j = i; j < nl; j++) {
            const b = chunk[j];
            if (b !== 0x20 && b !== 0x09 && b !== 0x0d) {
              blank = false;
              break;
            }
          }
        }
        if (nl < n) endLine(base + nl);
        i = nl + 1;
      }
      base += n;
    }
    endLine(base);
  } finally {
    closeSync(fd);
  }
  return new RecordIndex(file, out.finish());
}
