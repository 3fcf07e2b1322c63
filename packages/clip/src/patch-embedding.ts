// The ViT patch embedding: torch's Conv2d(C, D, kernel=P, stride=P, bias=False) as a matmul.
// Shape legend: B batch, C channels, H/W image height/width, P patch, G = H / P patches per side,
// N = G·G patches, D hidden size.
import { ShapeError } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";

/**
 * Cuts `[B, C, H, W]` into non-overlapping P×P patches, each flattened in (c, y, x) order — the order in
 * which torch lays out a conv kernel `[D, C, P, P]` — so `patches · W.reshape([D, C·P·P])ᵀ` equals the
 * strided conv. A matmul trains on wasm (which has no Conv2DBackpropFilter) and is faster than the conv.
 */
export function patchify(pixelValues: tf.Tensor, patchSize: number): tf.Tensor {
  const [B, C, H, W] = pixelValues.shape;
  const P = patchSize;
  if (pixelValues.rank !== 4 || H % P !== 0 || W % P !== 0)
    throw new ShapeError(
      `patchify: pixel values [${pixelValues.shape}] are not [B, C, H, W] with H and W multiples of ${P}`,
      ["B", "C", `k·${P}`, `k·${P}`],
      pixelValues.shape,
    );
  const Gh = H / P;
  const Gw = W / P;
  return tf.tidy(() => {
    const x = pixelValues.reshape([B * C, Gh, P, Gw, P]); // [B·C, Gh, P, Gw, P]
    const t = x.transpose([0, 1, 3, 2, 4]); // [B·C, Gh, Gw, P, P]
    const y = t.reshape([B, C, Gh * Gw, P * P]).transpose([0, 2, 1, 3]); // [B, N, C, P·P]
    return y.reshape([B, Gh * Gw, C * P * P]); // [B, N, C·P·P]
  });
}

/** Conv2d(stride = kernel) without bias: `[B, C, H, W]` × weight `[D, C, P, P]` → `[B, N, D]`. */
export function patchEmbed(pixelValues: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  const [D, C, P, P2] = weight.shape;
  if (weight.rank !== 4 || P !== P2)
    throw new ShapeError(`patchEmbed: weight [${weight.shape}] is not a square conv kernel [D, C, P, P]`);
  if (pixelValues.shape[1] !== C)
    throw new ShapeError(
      `patchEmbed: pixel values [${pixelValues.shape}] have ${pixelValues.shape[1]} channels, the kernel [${weight.shape}] expects ${C}`,
      ["B", C, "H", "W"],
      pixelValues.shape,
    );
  return tf.tidy(() => {
    const patches = patchify(pixelValues, P); // [B, N, C·P·P]
    const [B, N] = patches.shape;
    const w2 = weight.reshape([D, C * P * P]); // [D, C·P·P], the conv kernel's own memory order
    const y = tf.matMul(patches.reshape([B * N, C * P * P]), w2, false, true); // [B·N, D]
    return y.reshape([B, N, D]); // [B, N, D]
  });
}
