import type { LlavaBatch, LlavaDataLoader } from "@llava-ts/datasets";
import { describe, expect, it } from "vitest";
import { type EpochSource, epochLength, positionedBatches } from "./batch-stream.js";

// Compile-time (tsc): the datasets package's loader is an epoch source of trainer batches.
const loaderFits: LlavaDataLoader extends EpochSource<LlavaBatch> ? true : false = true;
void loaderFits;

async function collect<B>(
  it: AsyncIterable<{ batch: B; epoch: number; index: number; lastInEpoch: boolean }>,
) {
  const out: string[] = [];
  for await (const x of it) out.push(`${x.epoch}:${x.index}:${x.batch}${x.lastInEpoch ? "!" : ""}`);
  return out;
}

describe("positionedBatches", () => {
  it("replays an array per epoch and resumes mid-epoch", async () => {
    expect(await collect(positionedBatches(["a", "b", "c"], { epoch: 0, batchInEpoch: 0 }, 2))).toEqual([
      "0:0:a",
      "0:1:b",
      "0:2:c!",
      "1:0:a",
      "1:1:b",
      "1:2:c!",
    ]);
    expect(await collect(positionedBatches(["a", "b", "c"], { epoch: 1, batchInEpoch: 2 }, 2))).toEqual([
      "1:2:c!",
    ]);
  });

  it("asks an epoch source for the epoch and start batch (as LlavaDataLoader.epoch does)", async () => {
    const calls: [number, number][] = [];
    const source = {
      length: 2,
      async *epoch(e: number, start = 0) {
        calls.push([e, start]);
        for (let i = start; i < 2; i++) yield `e${e}b${i}`;
      },
    };
    const it = positionedBatches(source, { epoch: 3, batchInEpoch: 1 });
    const first = await it.next();
    expect(first.value).toEqual({ batch: "e3b1", epoch: 3, index: 1, lastInEpoch: true });
    expect((await it.next()).value?.batch).toBe("e4b0");
    await it.return(undefined);
    expect(calls).toEqual([
      [3, 1],
      [4, 0],
    ]);
    expect(epochLength(source)).toBe(2);
  });

  it("reads a one-shot generator once, fast-forwarding past consumed batches on resume", async () => {
    function* gen() {
      yield* ["x", "y", "z"];
    }
    expect(await collect(positionedBatches(gen(), { epoch: 0, batchInEpoch: 1 }, 5))).toEqual([
      "0:1:y",
      "0:2:z",
    ]);
    expect(epochLength(gen())).toBeUndefined();
  });
});
