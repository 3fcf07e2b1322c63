import { describe, expect, it } from "vitest";
import { formatDuration, ProgressBar } from "./progress-bar.js";

const update = { step: 5, total: 10, loss: 1.23456, lr: 2e-5, elapsedMs: 10_000, stepsThisRun: 5 };

describe("ProgressBar", () => {
  it("redraws one line with a bar, loss, lr and ETA on a terminal", () => {
    const out: string[] = [];
    const bar = new ProgressBar({ write: (s: string) => out.push(s), isTTY: true, columns: 100 });
    bar.update(update);
    bar.finish();
    expect(out[0]).toBe(`\r[${"#".repeat(20)}${".".repeat(20)}] 5/10 loss 1.2346 lr 2.00e-5 ETA 0:10\x1b[K`);
    expect(out[1]).toBe("\n");
  });

  it("prints plain lines when not a terminal", () => {
    const out: string[] = [];
    const bar = new ProgressBar({ write: (s: string) => out.push(s), isTTY: false });
    bar.update({ ...update, step: 1, stepsThisRun: 1, elapsedMs: 3_600_000 });
    bar.finish();
    expect(out).toEqual(["step 1/10 loss 1.2346 lr 2.00e-5 ETA 9:00:00\n"]);
  });

  it("formats durations", () => {
    expect([
      formatDuration(0),
      formatDuration(61_000),
      formatDuration(3_723_000),
      formatDuration(Number.NaN),
    ]).toEqual(["0:00", "1:01", "1:02:03", "?"]);
  });
});
