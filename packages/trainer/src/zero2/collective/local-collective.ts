// The collective of a job with one rank: every operation is the identity (the reduction of one value is
// that value, the partition of a flat array is all of it), so one rank runs the same ZeRO-2 code as N.
import { type Collective, type ReduceOp, scatterPartition } from "./collective.js";

export class LocalCollective implements Collective {
  readonly rank = 0;
  readonly worldSize = 1;

  async reduceScatter(input: Float32Array, output: Float32Array, _op?: ReduceOp): Promise<void> {
    scatterPartition(input, output, 1, 0);
    if (output.buffer !== input.buffer || output.byteOffset !== input.byteOffset) output.set(input);
  }

  async allGather(_data: Float32Array): Promise<void> {}

  async allReduce(_data: Float32Array | Float64Array, _op?: ReduceOp): Promise<void> {}

  async broadcast(_data: Float32Array | Float64Array, _root?: number): Promise<void> {}

  async barrier(): Promise<void> {}
}
