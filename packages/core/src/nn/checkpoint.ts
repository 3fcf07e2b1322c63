// Gradient checkpointing (torch.utils.checkpoint, HF's gradient_checkpointing_enable): a block's forward
// runs without recording its inside on the gradient tape, and the backward pass runs it again from the
// saved input. Only each block's input is held between forward and backward — and an offloaded block's
// weights may leave the heap in between. As torch's preserve_rng_state, the random streams the block draws
// from (LoRA dropout) are replayed in the recomputation, so it drops what the forward dropped.
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../modules/random.js";

interface EngineInternals {
  isTapeOn(): boolean;
  state: { activeTape: unknown };
}

function engine(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

/** Whether operations are being recorded for a gradient now (false inside a custom gradient's forward). */
export function isRecordingGradients(): boolean {
  return engine().isTapeOn();
}

export type CheckpointedFn = (x: tf.Tensor, constants: readonly (tf.Tensor | null)[]) => tf.Tensor;

/**
 * `fn(x, constants)` with checkpointing when a gradient is being recorded (plain `fn` otherwise).
 * `params` are the trainable variables `fn` reads — they get their gradients through this node;
 * `constants` are tensors it reads that need none (rotary tables, attention bias); `rngs` are the random
 * streams it draws from, set back to their states of the forward for the recomputation.
 */
export function checkpoint(
  fn: CheckpointedFn,
  x: tf.Tensor,
  constants: readonly (tf.Tensor | null)[],
  params: readonly tf.Variable[],
  rngs: readonly Rng[] = [],
): tf.Tensor {
  if (!isRecordingGradients()) return fn(x, constants);
  const present = constants.filter((c): c is tf.Tensor => c !== null);
  const rebuild = (saved: tf.Tensor[]) => {
    let i = 0;
    return constants.map((c) => (c === null ? null : saved[i++]));
  };
  const node = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor;
    const drawn = rngs.map((r) => r.state); // before the forward draws
    // Inside a custom gradient's forward nothing is taped: the block's activations are freed here.
    const value = fn(input, constants);
    save([input, ...present]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ...rest] = saved;
        const state = engine().state;
        // A gradient computed during another one's backward pass replaces (and then clears) the engine's
        // active tape, which the outer pass still needs for its cleanup: put it back.
        const outer = state.activeTape;
        const after = rngs.map((r) => r.state);
        rngs.forEach((r, i) => {
          r.state = drawn[i];
        });
        try {
          const { value: y, grads } = tf
            .engine()
            .gradients(() => fn(xs, rebuild(rest)), [xs, ...params], dy, true);
          y.dispose();
          return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? xs : params[i - 1]));
        } finally {
          state.activeTape = outer;
          rngs.forEach((r, i) => {
            r.state = after[i];
          });
        }
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return node(x, ...params);
}
