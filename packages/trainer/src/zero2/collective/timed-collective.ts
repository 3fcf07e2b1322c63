// A Collective that adds up the wall time spent inside its operations (waiting for the slowest rank
// included), so a step's time splits into compute and communication.
import { performance } from "node:perf_hooks";
import type { Collective, ReduceOp } from "./collective.js";

export class TimedCollective implements Collective {
  /** Milliseconds spent in collective operations since construction. */
  ms = 0;

  constructor(readonly inner: Collective) {}

  get rank(): number {
    return this.inner.rank;
  }

  get worldSize(): number {
    return this.inner.worldSize;
  }

  reduceScatter(input: Float32Array, output: Float32Array, op?: ReduceOp): Promise<void> {
    return this.time(() => this.inner.reduceScatter(input, output, op));
  }

  allGather(data: Float32Array): Promise<void> {
    return this.time(() => this.inner.allGather(data));
  }

  allReduce(data: Float32Array | Float64Array, op?: ReduceOp): Promise<void> {
    return this.time(() => this.inner.allReduce(data, op));
  }

  broadcast(data: Float32Array | Float64Array, root?: number): Promise<void> {
    return this.time(() => this.inner.broadcast(data, root));
  }

  barrier(): Promise<void> {
    return this.time(() => this.inner.barrier());
  }

  contiguousGradients(length: number, rank?: number): Float32Array | undefined {
    return this.inner.contiguousGradients?.(length, rank);
  }

  private async time(op: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    try {
      await op();
    } finally {
      this.ms += performance.now() - t0;
    }
  }
}
