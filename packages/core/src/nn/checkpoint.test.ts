// Gradient checkpointing: the same value and gradients (inputs and variables) as the plain function, also
// when the checkpointed blocks sit between ordinary operations of an outer gradient, and no leaks.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend/init-backend.js";
import { normalInit, Rng } from "../modules/random.js";
import { expectNoLeaks } from "../testing/index.js";
import { checkpoint, isRecordingGradients } from "./checkpoint.js";

const D = 12;

describe.each(["wasm", "cpu"] as const)("gradient checkpointing on %s", (backend) => {
  let w1: tf.Variable;
  let w2: tf.Variable;
  let frozen: tf.Tensor;
  let bias: tf.Tensor;
  let x: tf.Tensor;
  beforeAll(async () => {
    await initBackend({ backend });
    const init = (seed: number, shape: number[]) => tf.tensor(normalInit(0.4, new Rng(seed))(shape), shape);
    w1 = tf.variable(init(1, [D, D]));
    w2 = tf.variable(init(2, [D, D]));
    frozen = init(3, [D, D]);
    bias = init(4, [1, D]);
    x = init(5, [5, D]);
  });

  // Two "layers" reading trainable variables, a frozen weight and a constant; a block is one layer.
  const block =
    (w: tf.Variable) =>
    (h: tf.Tensor, [b]: readonly (tf.Tensor | null)[]) =>
      tf.tidy(() => tf.matMul(h, w).tanh().matMul(frozen).add(b!).add(h));

  function loss(useCheckpoint: boolean, input: tf.Tensor): tf.Scalar {
    const run = (w: tf.Variable, h: tf.Tensor) =>
      useCheckpoint ? checkpoint(block(w), h, [bias], [w]) : block(w)(h, [bias]);
    const h1 = run(w1, input.mul(2));
    const h2 = run(w2, h1);
    return h2.square().mean() as tf.Scalar;
  }

  it("gives the same loss and gradients (input and variables) within 1e-6", () => {
    const plain = tf.engine().gradients(() => loss(false, x), [x, w1, w2]);
    const ckpt = tf.engine().gradients(() => loss(true, x), [x, w1, w2]);
    expect(Math.abs(ckpt.value.dataSync()[0] - plain.value.dataSync()[0])).toBeLessThanOrEqual(1e-6);
    plain.grads.forEach((g, i) => {
      const d = tf.tidy(() => g.sub(ckpt.grads[i]).abs().max().dataSync()[0]);
      expect(d, `gradient ${i}`).toBeLessThanOrEqual(1e-6);
      expect(tf.tidy(() => g.abs().max().dataSync()[0])).toBeGreaterThan(0);
    });
    tf.dispose([plain.value, ckpt.value, ...plain.grads, ...ckpt.grads]);
  });

  it("replays the block's random streams in the recomputation: dropout drops the same elements", () => {
    // A block with dropout whose mask seed is drawn from its own stream, as LoRA's dropout draws it.
    const dropped = (rng: Rng) => (h: tf.Tensor) => {
      const seed = rng.int(2 ** 31);
      return tf.tidy(() => {
        const keep = tf.randomUniform(h.shape, 0, 1, "float32", seed).greaterEqual(0.5).cast("float32");
        return tf.matMul(h.mul(keep), w1).tanh(); // [5, D]
      });
    };
    const run = (useCheckpoint: boolean, replay = false) => {
      const rng = new Rng(7);
      const value = tf.engine().gradients(() => {
        const h = useCheckpoint
          ? checkpoint(dropped(rng), x, [], [w1], replay ? [rng] : [])
          : dropped(rng)(x);
        return h.square().mean() as tf.Scalar;
      }, [w1]);
      return { ...value, state: rng.state };
    };
    const gap = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
    const plain = run(false);
    const replayed = run(true, true);
    const redrawn = run(true);
    expect(gap(plain.value, replayed.value)).toBeLessThanOrEqual(1e-6);
    expect(gap(plain.grads[0], replayed.grads[0])).toBeLessThanOrEqual(1e-6);
    // The stream ends where the plain run's does: the recomputation's draw is not counted twice.
    expect(replayed.state).toBe(plain.state);
    // Without the replay the recomputation draws another mask: another gradient.
    expect(gap(plain.grads[0], redrawn.grads[0])).toBeGreaterThan(1e-3);
    tf.dispose([plain, replayed, redrawn].flatMap((r) => [r.value, ...r.grads]));
  });

  it("runs plainly when no gradient is recorded, and leaks nothing either way", async () => {
    expect(isRecordingGradients()).toBe(false);
    const a = loss(true, x);
    const b = loss(false, x);
    expect(a.dataSync()[0]).toBe(b.dataSync()[0]);
    tf.dispose([a, b]);
    await expectNoLeaks(
      () => tf.engine().gradients(() => loss(true, x), [x, w1, w2]),
      "checkpointed gradients",
    );
  });
});
