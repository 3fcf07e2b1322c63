import { describe, expect, it } from "vitest";
import { EpochSampler, epochPermutation } from "./epoch-sampler.js";

describe("epochPermutation", () => {
  it("is a permutation, deterministic in (seed, epoch), different across epochs and seeds", () => {
    const a = epochPermutation(1000, 7, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochPermutation(1000, 7, 0)).toEqual(a);
    expect(epochPermutation(1000, 7, 1)).not.toEqual(a);
    expect(epochPermutation(1000, 8, 0)).not.toEqual(a);
    // Not close to the identity: a shuffle moves almost everything.
    expect(a.filter((v, i) => v === i).length).toBeLessThan(10);
  });
});

describe("EpochSampler", () => {
  it("gives ranks disjoint, equal shards that cover the epoch (divisible case)", () => {
    const n = 120;
    const shards = [0, 1, 2].map((rank) =>
      new EpochSampler({ length: n, seed: 3, rank, worldSize: 3 }).indices(5),
    );
    expect(shards.map((s) => s.length)).toEqual([40, 40, 40]);
    const all = shards.flatMap((s) => [...s]).sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('pads like torch DistributedSampler ("pad"), or drops the tail ("drop")', () => {
    const n = 10;
    const perm = epochPermutation(n, 1, 2);
    const padded = [0, 1, 2, 3].map((rank) => [
      ...new EpochSampler({ length: n, seed: 1, rank, worldSize: 4 }).indices(2),
    ]);
    // torch: indices += indices[:pad]; rank r takes indices[r::N]
    const torch = [...perm, ...perm.slice(0, 2)];
    for (let r = 0; r < 4; r++) expect(padded[r]).toEqual(torch.filter((_, k) => k % 4 === r));
    expect(padded.map((s) => s.length)).toEqual([3, 3, 3, 3]);
    const dropped = [0, 1, 2, 3].map((rank) => [
      ...new EpochSampler({ length: n, seed: 1, rank, worldSize: 4, tail: "drop" }).indices(2),
    ]);
    expect(dropped.map((s) => s.length)).toEqual([2, 2, 2, 2]);
    expect(new Set(dropped.flat()).size).toBe(8);
  });

  it("pads by repetition even when the dataset is smaller than the world", () => {
    const shards = [0, 1, 2, 3, 4].map((rank) => [
      ...new EpochSampler({ length: 2, rank, worldSize: 5, shuffle: false }).indices(0),
    ]);
    expect(shards).toEqual([[0], [1], [0], [1], [0]]);
  });

  it("batches are consecutive slices; dropLast drops a short tail", () => {
    const s = new EpochSampler({ length: 10, shuffle: false });
    expect(s.batches(0, 4).map((b) => [...b])).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(s.batches(0, 4, true).length).toBe(2);
  });

  it("rejects a bad rank or world size", () => {
    expect(() => new EpochSampler({ length: 4, rank: 2, worldSize: 2 })).toThrow(
      /rank must be in \[0, 2\), got 2/,
    );
    expect(() => new EpochSampler({ length: 4, worldSize: 0 })).toThrow(/worldSize/);
  });
});
