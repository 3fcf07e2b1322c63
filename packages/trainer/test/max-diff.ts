// Largest |a[i] − b[i]| of two equally long arrays (the length is asserted): the tests' parity measure.
import { expect } from "vitest";

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
