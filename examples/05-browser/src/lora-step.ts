// Fine-tuning in the page: LoRA on the language model's projections (or an adapter loaded trainable), and
// torch's AdamW on every trainable parameter — the update @llava-ts/trainer applies under Node, in tf ops.
import type { LlavaForConditionalGeneration } from "@llava-ts/llava";
import * as tf from "@tensorflow/tfjs-core";

export interface TrainBatch {
  inputIds: Int32Array | number[]; // [B·T]
  attentionMask: Int32Array | number[]; // [B·T]
  labels: Int32Array | number[]; // [B·T], -100 ignored
  batchSize: number;
  pixelValues: tf.Tensor4D; // [I, 3, S, S]
}

export class AdamW {
  private step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  constructor(
    readonly lr = 1e-3,
    readonly betas: [number, number] = [0.9, 0.999],
    readonly eps = 1e-8,
  ) {}

  /**
   * torch.optim.AdamW (weight_decay 0): m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
   * p -= lr/(1-β1^t) · m / (√v / √(1-β2^t) + eps).
   */
  apply(params: [string, tf.Variable][], grads: Record<string, tf.Tensor>): void {
    this.step++;
    const [b1, b2] = this.betas;
    const stepSize = this.lr / (1 - b1 ** this.step);
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.step);
    for (const [name, p] of params) {
      const g = grads[p.name];
      if (!g) continue;
      const m = this.m.get(name) ?? this.m.set(name, tf.variable(tf.zerosLike(p), false)).get(name)!;
      const v = this.v.get(name) ?? this.v.set(name, tf.variable(tf.zerosLike(p), false)).get(name)!;
      tf.tidy(() => {
        m.assign(m.mul(b1).add(g.mul(1 - b1)));
        v.assign(v.mul(b2).add(g.square().mul(1 - b2)));
        p.assign(p.sub(m.mul(stepSize).div(v.sqrt().div(bc2Sqrt).add(this.eps))));
      });
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/**
 * One optimizer step on `batch`; resolves to the loss before the update (read asynchronously: on a GPU
 * backend a synchronous read stalls the page).
 */
export async function trainStep(
  model: LlavaForConditionalGeneration,
  opt: AdamW,
  batch: TrainBatch,
): Promise<number> {
  const params = model.trainableParameters();
  const { value, grads } = tf.variableGrads(
    () =>
      model.forward({
        inputIds: batch.inputIds,
        batchSize: batch.batchSize,
        attentionMask: batch.attentionMask,
        labels: batch.labels,
        pixelValues: batch.pixelValues,
        logitsMode: "none",
      }).loss,
    params.map(([, p]) => p),
  );
  opt.apply(params, grads);
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  return loss;
}
