// What a command reads and writes, passed in so tests can capture it (and pipe stdin to `chat`).
export interface TextSink {
  write(text: string): unknown;
}

export interface CliIO {
  stdout: TextSink;
  stderr: TextSink;
  /** Lines of standard input (for `chat`). */
  stdin?: AsyncIterable<string>;
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}
