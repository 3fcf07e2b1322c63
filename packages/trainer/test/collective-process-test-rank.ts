// Test-only rank process: collective-test-rank.ts's scripts over a TcpCollective (each rank its own
// process): the scripted operations on deterministic data, a barrier checked through files, failures on
// purpose (throw, exit, hang), and a timed all-reduce of a large array.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRankProcess, runRankProcess } from "../src/zero2/launch/run-rank-process.js";
import { commonOps, contribution, failureScript } from "./collective-test-rank.js";

export interface ProcessCollectiveScript {
  script: "ops" | "barrier" | "throw" | "exit" | "loop" | "hang" | "throughput";
  total?: number;
  /** For barrier: a folder where each rank writes its phase into `rank-<r>`. */
  board?: string;
  rounds?: number;
  failRank?: number;
}

if (isRankProcess())
  runRankProcess<ProcessCollectiveScript, unknown>(async ({ rank, worldSize, collective, args }) => {
    const total = args.total ?? 1001;
    const fill = () => Float32Array.from({ length: total }, (_, i) => contribution(rank, i));
    switch (args.script) {
      case "ops": {
        const common = await commonOps(collective, rank, worldSize, total);
        const { lo, hi } = common;
        // In place, as PartitionedAdamW's copying path does it: the output is this rank's range of the input.
        const inPlace = fill();
        await collective.reduceScatter(inPlace, inPlace.subarray(lo, hi), "avg");
        // Float64 sums in rank order, rounded once: the same bits on every rank.
        const f64 = Float64Array.from({ length: 7 }, (_, i) => 0.1 * (rank + 1) + i / 3);
        await collective.allReduce(f64, "avg");
        // Float32 data is also summed in float64 and rounded once: 1 + 2⁻²⁴ + 2⁻²⁴ is 1 + 2⁻²³, not 1.
        const once = Float32Array.of(rank === 0 ? 1 : 2 ** -24);
        await collective.allReduce(once, "sum");
        return { ...common, inPlace: inPlace.slice(lo, hi), f64, once: once[0] };
      }
      case "barrier": {
        const seen: number[] = [];
        for (let p = 1; p <= (args.rounds ?? 50); p++) {
          writeFileSync(join(args.board!, `rank-${rank}`), String(p));
          await collective.barrier();
          // Every rank must have written phase p before anyone passes the barrier.
          for (let k = 0; k < worldSize; k++)
            seen.push(Number(readFileSync(join(args.board!, `rank-${k}`), "utf8")) >= p ? 1 : 0);
          await collective.barrier();
        }
        return seen.every((x) => x === 1);
      }
      case "throughput": {
        const own = fill();
        const data = new Float32Array(total);
        const rounds = args.rounds ?? 3;
        await collective.barrier(); // start together
        const t0 = performance.now();
        for (let r = 0; r < rounds; r++) {
          data.set(own);
          await collective.allReduce(data, "sum");
        }
        const ms = (performance.now() - t0) / rounds;
        // A few spot checks (the full comparison is the "ops" script's).
        const wrong = [0, 1, total >> 1, total - 1].filter((i) => {
          let s = 0;
          for (let k = 0; k < worldSize; k++) s += contribution(k, i);
          return data[i] !== Math.fround(s);
        });
        // Latency: one float64, as the trainer's loss weights and the optimizer's gradient norms are.
        const scalar = Float64Array.of(rank);
        const t1 = performance.now();
        for (let r = 0; r < 200; r++) await collective.allReduce(scalar, "sum");
        const scalarUs = ((performance.now() - t1) / 200) * 1000;
        return { ms, scalarUs, wrong };
      }
      case "throw":
      case "exit":
      case "loop":
      case "hang":
        return failureScript(collective, rank, args.script, args.failRank, fill());
    }
  });
