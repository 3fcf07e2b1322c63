import { describe, expect, it } from "vitest";
import { LrSchedule } from "./lr-schedule.js";

describe("LrSchedule (transformers' get_*_schedule_with_warmup, LambdaLR)", () => {
  it("constant: 1 throughout, or a linear ramp over the warmup", () => {
    const s = new LrSchedule(1e-3, 10);
    expect([0, 5, 9].map((t) => s.lr(t))).toEqual([1e-3, 1e-3, 1e-3]);
    const w = new LrSchedule(2, 10, { type: "constant", warmupSteps: 4 });
    expect([0, 1, 2, 3, 4, 9].map((t) => w.lr(t))).toEqual([0, 0.5, 1, 1.5, 2, 2]);
  });

  it("linear: ramp to the peak, then straight down to 0 at the last step", () => {
    const s = new LrSchedule(1, 10, { type: "linear", warmupSteps: 2 });
    const expected = [0, 0.5, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8, 0, 0];
    for (const [t, e] of expected.entries()) expect(s.lr(t)).toBeCloseTo(e, 12);
  });

  it("cosine: half a cosine from the peak to 0 after the warmup", () => {
    const s = new LrSchedule(1, 12, { type: "cosine", warmupSteps: 2 });
    for (let t = 2; t <= 12; t++)
      expect(s.lr(t)).toBeCloseTo(0.5 * (1 + Math.cos((Math.PI * (t - 2)) / 10)), 12);
    expect(s.lr(1)).toBe(0.5);
    expect(s.lr(7)).toBeCloseTo(0.5, 12);
  });

  it("warmupRatio rounds up as HF's get_warmup_steps; bad input is rejected", () => {
    expect(new LrSchedule(1, 10, { warmupRatio: 0.15 }).warmupSteps).toBe(2);
    expect(() => new LrSchedule(1, 10, { type: "step" as never })).toThrow(/unknown lr schedule "step"/);
    expect(() => new LrSchedule(1, 10, { warmupSteps: -1 })).toThrow(/warmup steps/);
  });
});
