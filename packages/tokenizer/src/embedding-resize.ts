// Whether the token embeddings must grow after tokenizer surgery. Qwen2.5 ships 151936 (7B: 152064) rows for
// 151665 tokens, so `<image>` (151665) fits and nothing changes; rows are added only when an id does not fit.

import { ConfigError } from "@llava-ts/errors";

export interface EmbeddingResizePlan {
  /** True when at least one token id has no embedding row. */
  needed: boolean;
  currentRows: number;
  /** Rows after the resize (equal to currentRows when not needed). */
  newRows: number;
  /** newRows - currentRows: the rows to append (initialised by the caller, e.g. to the mean embedding). */
  addedRows: number;
}

export interface EmbeddingResizeOptions {
  /** Round a grown matrix up to a multiple of this (transformers' `pad_to_multiple_of`). */
  padToMultipleOf?: number;
}

export function planEmbeddingResize(
  maxTokenId: number,
  currentRows: number,
  options: EmbeddingResizeOptions = {},
): EmbeddingResizePlan {
  if (!Number.isInteger(maxTokenId) || maxTokenId < 0)
    throw new ConfigError(`largest token id must be a non-negative integer, found ${maxTokenId}`);
  if (!Number.isInteger(currentRows) || currentRows < 0)
    throw new ConfigError(
      `embedding rows must be a non-negative integer, found ${currentRows}`,
      "vocab_size",
    );
  const multiple = options.padToMultipleOf ?? 1;
  if (!Number.isInteger(multiple) || multiple < 1)
    throw new ConfigError(`padToMultipleOf must be a positive integer, found ${multiple}`);
  if (maxTokenId < currentRows) return { needed: false, currentRows, newRows: currentRows, addedRows: 0 };
  const newRows = Math.ceil((maxTokenId + 1) / multiple) * multiple;
  return { needed: true, currentRows, newRows, addedRows: newRows - currentRows };
}
