// What a command reads and writes, passed in so tests can capture it (and pipe stdin to `chat`).
import { createInterface } from "node:readline";

export interface TextSink {
  write(text: string): unknown;
}

export interface CliIO {
  stdout: TextSink;
  stderr: TextSink;
  /** Lines of standard input (for `chat`). */
  stdin?: AsyncIterable<string>;
}

/**
 * The lines of a stream, buffered from the moment this is called: a line piped in while the model is still
 * loading waits for the reader instead of being lost (readline's own iterator only sees lines emitted after
 * it is created).
 */
export function bufferedLines(input: NodeJS.ReadableStream): AsyncIterable<string> & { close(): void } {
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const lines: string[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  rl.on("line", (line) => {
    lines.push(line);
    wake?.();
  });
  rl.on("close", () => {
    closed = true;
    wake?.();
  });
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (lines.length > 0) yield lines.shift()!;
        else if (closed) return;
        else await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
    close: () => rl.close(),
  };
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}
