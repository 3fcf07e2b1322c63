import type { LlavaBatch } from "@llava-ts/datasets";
import { describe, expect, it } from "vitest";
import { positionedBatches } from "../batch-stream.js";
import { everyNth, rankRows } from "./rank-data.js";

function batch(B: number, T: number, imagesPerRow: number): LlavaBatch {
  const S = 2;
  return {
    indices: Array.from({ length: B }, (_, i) => 10 + i),
    skipped: [],
    truncated: [],
    batchSize: B,
    seqLength: T,
    inputIds: Int32Array.from({ length: B * T }, (_, i) => i),
    attentionMask: new Int32Array(B * T).fill(1),
    labels: Int32Array.from({ length: B * T }, (_, i) => 1000 + i),
    pixelValues: Float32Array.from({ length: B * imagesPerRow * 3 * S * S }, (_, i) => i),
    pixelShape: [B * imagesPerRow, 3, S, S],
  };
}

describe("rankRows", () => {
  it("takes each rank's rows and their images; the ranks' rows concatenate to the batch", () => {
    const b = batch(4, 3, 2);
    const parts = [0, 1].map((r) => rankRows(b, r, 2));
    expect(parts.map((p) => p.batchSize)).toEqual([2, 2]);
    expect([...parts[1].inputIds]).toEqual([6, 7, 8, 9, 10, 11]);
    expect(parts[1].pixelShape).toEqual([4, 3, 2, 2]);
    expect([...parts[0].pixelValues!, ...parts[1].pixelValues!]).toEqual([...b.pixelValues!]);
    expect([...parts[0].labels, ...parts[1].labels]).toEqual([...b.labels]);
    expect(parts.map((p) => p.indices)).toEqual([
      [10, 11],
      [12, 13],
    ]);
  });

  it("rejects a batch that does not split evenly", () => {
    expect(() => rankRows(batch(3, 2, 1), 0, 2)).toThrow(/3 rows cannot be split evenly over 2 ranks/);
  });
});

describe("everyNth", () => {
  const data = Array.from({ length: 7 }, (_, i) => i);
  const collect = async (
    d: ReturnType<typeof everyNth<number>>,
    start = { epoch: 0, batchInEpoch: 0 },
    epochs = 1,
  ) => {
    const out: number[] = [];
    for await (const p of positionedBatches(d, start, epochs)) out.push(p.batch);
    return out;
  };

  it("gives rank r micro-batches r, r + N, …, the same count on every rank", async () => {
    expect(await collect(everyNth(data, 0, 3))).toEqual([0, 3]);
    expect(await collect(everyNth(data, 1, 3))).toEqual([1, 4]);
    expect(await collect(everyNth(data, 2, 3))).toEqual([2, 5]); // 6 is dropped: ranks must step together
  });

  it("resumes mid-epoch at the rank's own position", async () => {
    expect(await collect(everyNth(data, 1, 2), { epoch: 0, batchInEpoch: 1 })).toEqual([3, 5]);
  });

  it("shards a one-pass async stream too", async () => {
    async function* stream() {
      yield* data;
    }
    expect(await collect(everyNth(stream(), 1, 2))).toEqual([1, 3, 5]);
  });
});
