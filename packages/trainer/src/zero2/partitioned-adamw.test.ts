// The optimizer on one rank (LocalCollective): what torch.optim.AdamW and clip_grad_norm_ do, applied to
// the variables. Its N-rank paths are compared with this one in zero2.test.ts.
import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { adamwUpdate } from "../adamw.js";
import { LocalCollective } from "./collective/local-collective.js";
import { PartitionedAdamW } from "./partitioned-adamw.js";

beforeAll(async () => {
  await initBackend();
});

const collective = new LocalCollective();

/** An optimizer over fresh variables with the given values, and `grads` put in its buffer. */
function setup(values: number[][], grads: (number[] | undefined)[], options = {}) {
  const vars = values.map((v) => tf.variable(tf.tensor1d(v)));
  const opt = new PartitionedAdamW(
    vars.map((variable, i) => ({ name: `p${i}`, variable, decay: i !== 1 })),
    { collective, ...options },
  );
  grads.forEach((g, i) => {
    if (!g) return;
    opt.grads.views[i].set(g);
    opt.grads.present[i] = true;
  });
  return { vars, opt };
}

describe("PartitionedAdamW on one rank", () => {
  it("writes the update into the variables, skips parameters without a gradient and decays only `decay` ones", async () => {
    const { vars, opt } = setup([[1, 2], [3], [5]], [[0, 0], [0], undefined], { lr: 0.1, weightDecay: 0.5 });
    await opt.step(0.1);
    // zero gradient: only the decay moves p0; p1 is not decayed; p2 had no gradient at all
    expect([...vars[0].dataSync()].map((x) => Number(x.toFixed(6)))).toEqual([0.95, 1.9]);
    expect(vars[1].dataSync()[0]).toBe(3);
    expect(vars[2].dataSync()[0]).toBe(5);
    expect([opt.expAvg[3], opt.expAvgSq[3]]).toEqual([0, 0]); // p2's state untouched
    expect(opt.stepCount).toBe(1);
    expect(opt.stateSize).toBe(8); // 2 × the 4 values of its partition (all of them)
    tf.dispose(vars);
  });

  it("rejects bad hyper-parameters with the value in the message", () => {
    expect(() => setup([], [], { betas: [0.9, 1] })).toThrow(/betas \[0.9,1\]/);
    expect(() => setup([], [], { lr: -1 })).toThrow(/learning rate -1/);
  });

  it("clips as clip_grad_norm_ (max_norm / (norm + 1e-6), folded into the update) and returns the norm", async () => {
    const h = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    const expected = (p: number[], g: number[], gradScale: number) => {
      const out = Float32Array.from(p);
      adamwUpdate(out, Float32Array.from(g), new Float32Array(p.length), new Float32Array(p.length), 1, {
        ...h,
        gradScale,
      });
      return out;
    };
    const clipped = setup([[1, 1], [1]], [[3, 0], [4]]);
    expect(await clipped.opt.step(0.1, 1)).toBe(5);
    const coef = 1 / (5 + 1e-6);
    expect(clipped.vars[0].dataSync()).toEqual(expected([1, 1], [3, 0], coef));
    expect(clipped.vars[1].dataSync()).toEqual(expected([1], [4], coef));
    // Within max_norm nothing is scaled: bit-identical to no clipping.
    const within = setup([[1, 1]], [[0.3, 0.4]]);
    expect(await within.opt.step(0.1, 0.5 + 1e-3)).toBeCloseTo(0.5, 6);
    expect(within.vars[0].dataSync()).toEqual(expected([1, 1], [0.3, 0.4], 1));
    tf.dispose([...clipped.vars, ...within.vars]);
  });

  it("stops before the update when the gradient norm is not finite", async () => {
    const { vars, opt } = setup([[1, 2]], [[Number.NaN, 0]]);
    await expect(opt.step(0.1, 1)).rejects.toThrow(
      /step 1: gradient norm is NaN; training stopped before the update/,
    );
    expect([...vars[0].dataSync()]).toEqual([1, 2]);
    expect(opt.stepCount).toBe(0);
    tf.dispose(vars);
  });
});
