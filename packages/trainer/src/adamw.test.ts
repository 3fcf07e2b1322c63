import { initBackend } from "@llava-ts/core";
import { beforeAll, describe, expect, it } from "vitest";
import { adamwUpdate } from "./adamw.js";

beforeAll(async () => {
  await initBackend();
});

/** torch.optim.AdamW's documented update in float64, the reference the float32 code must track. */
function reference(
  p: number[],
  grads: number[][],
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  wd: number,
) {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const out = [...p];
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < out.length; i++) {
      out[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mh = m[i] / (1 - b1 ** t);
      const vh = v[i] / (1 - b2 ** t);
      out[i] -= (lr * mh) / (Math.sqrt(vh) + eps);
    }
  });
  return { p: out, m, v };
}

describe("adamwUpdate", () => {
  it("matches torch's AdamW formula (decoupled decay, bias correction, eps outside the sqrt) over 3 steps", () => {
    const p0 = [0.5, -1.25, 3, 1e-3, -2e-4];
    const grads = [
      [0.1, -0.2, 1e-6, 3, -0.5],
      [0.05, 0.3, -2e-6, 2.5, 0.4],
      [-0.2, 0.1, 0, -1, 0.3],
    ];
    const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
    const p = Float32Array.from(p0);
    const m = new Float32Array(5);
    const v = new Float32Array(5);
    for (const [k, g] of grads.entries()) adamwUpdate(p, Float32Array.from(g), m, v, k + 1, h);
    const ref = reference(p0, grads, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay);
    for (let i = 0; i < 5; i++) {
      expect(Math.abs(p[i] - ref.p[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(ref.p[i])));
      expect(Math.abs(m[i] - ref.m[i])).toBeLessThan(1e-7);
      expect(Math.abs(v[i] - ref.v[i])).toBeLessThan(1e-7);
    }
    // The first step moves every coordinate with a non-tiny gradient by ≈ lr (Adam's normalised step) + decay.
    const one = Float32Array.from([1]);
    adamwUpdate(one, Float32Array.from([123]), new Float32Array(1), new Float32Array(1), 1, {
      ...h,
      weightDecay: 0,
    });
    expect(one[0]).toBeCloseTo(1 - h.lr, 6);
  });

  it("updates only the requested range (a ZeRO-2 partition)", () => {
    const p = Float32Array.from([1, 1, 1, 1]);
    const g = Float32Array.from([1, 1, 1, 1]);
    adamwUpdate(
      p,
      g,
      new Float32Array(4),
      new Float32Array(4),
      1,
      { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
      1,
      3,
    );
    expect([...p].map((x) => Number(x.toFixed(5)))).toEqual([1, 0.9, 0.9, 1]);
  });
});

describe("adamwUpdate with clipping folded in (gradScale) and a separate source", () => {
  it("equals scaling the gradients in float32 first, bit for bit, and leaves the source alone", () => {
    const n = 1000;
    const g = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
    const coef = 0.37 / (12.5 + 1e-6);
    const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
    // torch: grad.mul_(clip_coef) in float32, then the update.
    const scaled = Float32Array.from(g, (x) => x * Math.fround(coef));
    const p1 = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const [m1, v1] = [new Float32Array(n), new Float32Array(n)];
    adamwUpdate(p1, scaled, m1, v1, 1, h);
    // Folded: the scale applied as each gradient is read, the update written into a fresh array.
    const source = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const before = Float32Array.from(source);
    const p2 = new Float32Array(n);
    const [m2, v2] = [new Float32Array(n), new Float32Array(n)];
    adamwUpdate(p2, g, m2, v2, 1, { ...h, gradScale: coef }, 0, n, source);
    expect(p2).toEqual(p1);
    expect(m2).toEqual(m1);
    expect(v2).toEqual(v1);
    expect(source).toEqual(before);
  });

  it("returns how many values it wrote are NaN or ±Inf, a finite double past float32's range included", () => {
    const h = { lr: 1e38, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    // 3.4e38 + 1e38 is a finite double and +Inf as float32; a NaN gradient gives NaN; the rest stay finite.
    const p = Float32Array.from([3.4e38, 1, 2, 3]);
    const g = Float32Array.from([-1, Number.NaN, 0.5, -0.5]);
    const n = adamwUpdate(p, g, new Float32Array(4), new Float32Array(4), 1, h);
    expect([p[0], Number.isNaN(p[1]), Number.isFinite(p[2]), Number.isFinite(p[3])]).toEqual([
      Number.POSITIVE_INFINITY,
      true,
      true,
      true,
    ]);
    expect(n).toBe(2);
    expect(
      adamwUpdate(
        Float32Array.from([1]),
        Float32Array.from([1]),
        new Float32Array(1),
        new Float32Array(1),
        1,
        { ...h, lr: 1e-3 },
      ),
    ).toBe(0);
  });
  it("counts no non-finite value where many large ones sum past float32's range but each is finite", () => {
    const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    const p = Float32Array.from([3e38, 3e38, -3e38]);
    expect(adamwUpdate(p, Float32Array.from([1, 1, 1]), new Float32Array(3), new Float32Array(3), 1, h)).toBe(
      0,
    );
    expect(p.every(Number.isFinite)).toBe(true);
  });
});
