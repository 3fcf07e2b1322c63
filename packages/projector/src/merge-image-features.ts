// Scatter image features into the token embeddings at the image-token positions, as transformers 4.46's
// LLaVA does with `inputs_embeds.masked_scatter(special_image_mask, image_features)`.
// Shape legend: B batch, T tokens, D hidden size, N image tokens (= feature rows), L rows per image.
import { ShapeError } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";

/**
 * Returns `inputsEmbeds` with the k-th image token (in row-major order over [B, T]) replaced by the k-th
 * feature row. Built as one gather over concat([embeds, features]) so that gradients reach both the
 * text embeddings and the image features (gather's gradient is an UnsortedSegmentSum, which core's
 * initBackend registers for wasm).
 */
export function mergeImageFeatures(
  inputsEmbeds: tf.Tensor, // [B, T, D]
  inputIds: Int32Array | tf.Tensor, // [B, T]
  imageFeatures: tf.Tensor, // [N_img, L, D] or [N, D]
  imageTokenIndex: number,
): tf.Tensor {
  if (inputsEmbeds.rank !== 3)
    throw new ShapeError(
      `mergeImageFeatures: inputsEmbeds [${inputsEmbeds.shape}] is not [B, T, D]`,
      ["B", "T", "D"],
      inputsEmbeds.shape,
    );
  const [B, T, D] = inputsEmbeds.shape;
  const ids = tokenIds(inputIds, B, T);
  if (
    (imageFeatures.rank !== 2 && imageFeatures.rank !== 3) ||
    imageFeatures.shape[imageFeatures.rank - 1] !== D
  )
    throw new ShapeError(
      `mergeImageFeatures: image features [${imageFeatures.shape}] are not [N, L, ${D}] or [N, ${D}] (embeddings [${inputsEmbeds.shape}])`,
      ["N", "L", D],
      imageFeatures.shape,
    );
  const rows = imageFeatures.size / D;

  // Each output position reads either its own embedding (index p) or feature row k (index B·T + k).
  const index = new Int32Array(B * T);
  let k = 0;
  for (let p = 0; p < B * T; p++) index[p] = ids[p] === imageTokenIndex ? B * T + k++ : p;
  if (k !== rows)
    throw new ShapeError(
      `image tokens (${k}) do not match image features (${rows}): features [${imageFeatures.shape}], token id ${imageTokenIndex}`,
      [k, D],
      imageFeatures.shape,
    );

  return tf.tidy(() => {
    const embeds2d = inputsEmbeds.reshape([B * T, D]); // [B·T, D]
    if (rows === 0) return embeds2d.reshape([B, T, D]); // [B, T, D], a new handle on the input's data
    const feats2d = imageFeatures.reshape([rows, D]); // [N, D]
    const table = tf.concat([embeds2d, feats2d], 0); // [B·T + N, D]
    const merged = tf.gather(table, tf.tensor1d(index, "int32")); // [B·T, D]
    return merged.reshape([B, T, D]); // [B, T, D]
  });
}

/** The ids as a flat Int32Array of B·T entries, checking the count (and the shape of a tensor). */
function tokenIds(
  inputIds: Int32Array | tf.Tensor,
  B: number,
  T: number,
): Int32Array | Float32Array | Uint8Array {
  if (inputIds instanceof tf.Tensor) {
    if (inputIds.rank !== 2 || inputIds.shape[0] !== B || inputIds.shape[1] !== T)
      throw new ShapeError(
        `mergeImageFeatures: inputIds [${inputIds.shape}] do not match embeddings [B, T] = [${B}, ${T}]`,
        [B, T],
        inputIds.shape,
      );
    return inputIds.dataSync() as Int32Array | Float32Array | Uint8Array;
  }
  if (inputIds.length !== B * T)
    throw new ShapeError(
      `mergeImageFeatures: ${inputIds.length} inputIds do not match embeddings [B, T] = [${B}, ${T}]`,
      [B, T],
      [inputIds.length],
    );
  return inputIds;
}
