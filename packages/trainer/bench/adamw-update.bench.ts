// AdamW update of one 4M-value parameter on the active backend (wasm here): the JS path the trainer uses
// (read param, update flat Float32Arrays, write back) against the same maths as tf ops under tidy.
// Run: npx vitest bench --run bench/adamw-update.bench.ts
import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, bench, describe } from "vitest";
import { adamwUpdate, writeVariable } from "../src/adamw.js";

const N = 4 * 1024 * 1024;
let p: tf.Variable;
let mV: tf.Variable;
let vV: tf.Variable;
let gT: tf.Tensor;
const m = new Float32Array(N);
const v = new Float32Array(N);
const g = Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 1e-3);
let step = 0;
const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

beforeAll(async () => {
  await initBackend();
  p = tf.variable(tf.randomNormal([N]));
  mV = tf.variable(tf.zeros([N]));
  vV = tf.variable(tf.zeros([N]));
  gT = tf.tensor1d(g);
});

describe(`AdamW step, ${N} values`, () => {
  bench(
    "JS flat arrays (dataSync + loop + assign)",
    () => {
      step++;
      const data = p.dataSync() as Float32Array;
      adamwUpdate(data, g, m, v, step, h);
      writeVariable(p, data);
    },
    { iterations: 10, warmupIterations: 2 },
  );
  bench(
    "tf ops under tidy (m, v as variables)",
    () => {
      step++;
      tf.tidy(() => {
        const bc1 = 1 - h.beta1 ** step;
        const bc2 = Math.sqrt(1 - h.beta2 ** step);
        mV.assign(mV.mul(h.beta1).add(gT.mul(1 - h.beta1)));
        vV.assign(vV.mul(h.beta2).add(gT.square().mul(1 - h.beta2)));
        const denom = vV.sqrt().div(bc2).add(h.eps);
        p.assign(p.mul(1 - h.lr * h.weightDecay).sub(mV.div(denom).mul(h.lr / bc1)));
      });
    },
    { iterations: 10, warmupIterations: 2 },
  );
});
