// Collective over TCP for ranks that are separate processes (one per GPU, or per machine): a full mesh of
// sockets (tcp-rendezvous.ts), frames of raw little-endian values (frame-socket.ts). Every reduction is
// owner-computes: rank k receives partition k of everyone's array and reduces it in rank order, summing in
// float64 and rounding once, exactly as SharedMemoryCollective's reduceSlots; all-gather then sends each
// owner's bits to everyone, so results are identical on every rank. Per rank that moves (N−1)/N of the
// array out and in per reduce-scatter or all-gather, the same as NCCL's ring, in one round instead of N−1.
// Operations run one at a time in call order over a TcpMesh (tcp-mesh.ts), whose first failure is final.
import { endianness } from "node:os";
import { ConfigError } from "@llava-ts/core";
import {
  type Collective,
  CollectiveError,
  partitionRange,
  type ReduceOp,
  scatterPartition,
} from "./collective.js";
import { DType, type FrameHeader, type FrameSocket } from "./frame-socket.js";
import { TcpMesh, type Values } from "./tcp-mesh.js";
import { type RendezvousOptions, rendezvous } from "./tcp-rendezvous.js";

export interface TcpCollectiveOptions {
  /** Longest an operation waits for its peers (a slow step, a checkpoint write). Default 30 min. */
  timeoutMs?: number;
  /** Longest the rendezvous may take. Default 5 min. */
  connectTimeoutMs?: number;
  /** Values per frame; each peer's receive queue holds at most two frames. Default 2²² (16 MB of float32). */
  bucketSize?: number;
  /** Kernel TCP keep-alive delay, which works while JS is busy computing. Default 10 s. */
  keepAliveMs?: number;
}

export class TcpCollective implements Collective {
  private readonly mesh: TcpMesh;
  private readonly bucket: number;

  /** Rendezvous with the other ranks (MASTER_ADDR:MASTER_PORT) and return this rank's collective. */
  static async connect(options: RendezvousOptions & TcpCollectiveOptions): Promise<TcpCollective> {
    const { rank, worldSize } = options;
    if (!Number.isInteger(worldSize) || worldSize < 1)
      throw new RangeError(`worldSize must be ≥ 1, got ${worldSize}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
      throw new RangeError(`rank must be in [0, ${worldSize}), got ${rank}`);
    const bucket = options.bucketSize ?? 2 ** 22;
    if (!Number.isInteger(bucket) || bucket < 1 || bucket > 2 ** 28)
      throw new RangeError(`bucketSize must be an integer in [1, 2^28], got ${bucket}`);
    if (endianness() !== "LE")
      throw new CollectiveError("frames are little-endian; this machine is not", rank);
    return new TcpCollective(rank, worldSize, await rendezvous(options), { ...options, bucketSize: bucket });
  }

  /** torch's env:// variables: RANK, WORLD_SIZE, MASTER_ADDR (default 127.0.0.1), MASTER_PORT. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options: TcpCollectiveOptions = {}) {
    const int = (key: string, value = env[key]) => {
      const n = Number(value);
      if (value === undefined || value === "" || !Number.isInteger(n) || n < 0)
        throw new ConfigError(`${key} must be a non-negative integer, got ${JSON.stringify(value)}`, key);
      return n;
    };
    const masterAddr = env.MASTER_ADDR || "127.0.0.1";
    const [rank, worldSize, masterPort] = [int("RANK"), int("WORLD_SIZE"), int("MASTER_PORT")];
    return TcpCollective.connect({ ...options, rank, worldSize, masterAddr, masterPort });
  }

  private constructor(
    readonly rank: number,
    readonly worldSize: number,
    peers: (FrameSocket | undefined)[],
    options: TcpCollectiveOptions,
  ) {
    this.bucket = options.bucketSize ?? 2 ** 22;
    this.mesh = new TcpMesh(rank, peers, options.timeoutMs ?? 30 * 60_000);
  }

  async reduceScatter(input: Float32Array, output: Float32Array, op: ReduceOp = "sum"): Promise<void> {
    scatterPartition(input, output, this.worldSize, this.rank);
    if (this.worldSize === 1) {
      this.mesh.check();
      if (output.buffer !== input.buffer || output.byteOffset !== input.byteOffset) output.set(input);
      return;
    }
    return this.mesh.run("reduceScatter", (h) => this.reduceScatterOp(h, input, output, op));
  }

  async allGather(data: Float32Array): Promise<void> {
    if (this.worldSize === 1) return this.mesh.check();
    return this.mesh.run("allGather", (h) => this.gatherOp(h, data));
  }

  async allReduce(data: Float32Array | Float64Array, op: ReduceOp = "sum"): Promise<void> {
    if (this.worldSize === 1) return this.mesh.check();
    const [lo, hi] = partitionRange(data.length, this.worldSize, this.rank);
    return this.mesh.run("allReduce", async (h) => {
      await this.reduceScatterOp(h, data, data.subarray(lo, hi), op); // in place: the owner's reduced range
      await this.gatherOp({ ...h, phase: 1 }, data); // the owners' bits to everyone
    });
  }

  async broadcast(data: Float32Array | Float64Array, root = 0): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize)
      throw new CollectiveError(`broadcast: root must be in [0, ${this.worldSize}), got ${root}`, this.rank);
    if (this.worldSize === 1) return this.mesh.check();
    return this.mesh.run("broadcast", async (h0) => {
      const h = { ...h0, dtype: dtypeOf(data) };
      const frames = this.frames(h, 0, data.length);
      if (this.rank === root) {
        await Promise.all(
          this.others().flatMap((k) => frames.map(([f, c, e]) => this.mesh.send(k, f, data.subarray(c, e)))),
        );
      } else
        for (const [f, c, e] of frames) data.set(await this.mesh.receive(root, { ...f, count: e - c }), c);
    });
  }

  async barrier(): Promise<void> {
    if (this.worldSize === 1) return this.mesh.check();
    return this.mesh.run("barrier", async (h) => {
      const sent = Promise.all(this.others().map((k) => this.mesh.send(k, h)));
      sent.catch(() => {});
      for (const k of this.others()) await this.mesh.receive(k, { ...h, count: 0 });
      await sent;
    });
  }

  /**
   * Ends cleanly after the operations already called: a goodbye to every peer (so its closing is not a
   * failure), then the sockets are half-closed. Later operations reject.
   */
  close(): Promise<void> {
    return this.mesh.close();
  }

  /**
   * This rank failed (`reason`): every peer is told (its operations reject with "aborted: rank r failed"),
   * and this collective rejects everything from now on. Resolves once the notices are sent (≤ 1 s).
   */
  abort(reason: unknown): Promise<void> {
    return this.mesh.abort(reason);
  }

  /** The failure that ended this collective, if any. */
  get error(): CollectiveError | undefined {
    return this.mesh.error;
  }

  // --- the operations' bodies: the header `h` carries the op, seq and dtype every frame of it repeats ---

  private async reduceScatterOp(h0: FrameHeader, input: Values, output: Values, op: ReduceOp): Promise<void> {
    const N = this.worldSize;
    const h = { ...h0, dtype: dtypeOf(input) };
    const sends: Promise<void>[] = [];
    for (const k of this.others()) {
      const [a, b] = partitionRange(input.length, N, k);
      for (const [f, c, e] of this.frames(h, a, b)) sends.push(this.mesh.send(k, f, input.subarray(c, e)));
    }
    const sent = Promise.all(sends);
    sent.catch(() => {});
    const [lo, hi] = partitionRange(input.length, N, this.rank);
    for (const [f, c, e] of this.frames(h, lo, hi)) {
      const acc = new Float64Array(e - c);
      for (let k = 0; k < N; k++) {
        const part =
          k === this.rank ? input.subarray(c, e) : await this.mesh.receive(k, { ...f, count: e - c });
        accumulate(acc, part, k === 0, op);
      }
      if (op === "avg") for (let j = 0; j < acc.length; j++) acc[j] /= N;
      output.set(acc, c - lo); // rounded once (float32 output); own input [c, e) was read above
    }
    await sent; // the caller may overwrite `input` as soon as this resolves
  }

  private async gatherOp(h0: FrameHeader, data: Values): Promise<void> {
    const N = this.worldSize;
    const h = { ...h0, dtype: dtypeOf(data) };
    const [lo, hi] = partitionRange(data.length, N, this.rank);
    const own = this.frames(h, lo, hi);
    const sent = Promise.all(
      this.others().flatMap((k) => own.map(([f, c, e]) => this.mesh.send(k, f, data.subarray(c, e)))),
    );
    sent.catch(() => {});
    for (const k of this.others()) {
      const [a, b] = partitionRange(data.length, N, k);
      for (const [f, c, e] of this.frames(h, a, b))
        data.set(await this.mesh.receive(k, { ...f, count: e - c }), c);
    }
    await sent;
  }

  /** [header, start, end) of each frame of [a, b): buckets of `bucketSize` values from `a`. */
  private frames(h: FrameHeader, a: number, b: number): [FrameHeader, number, number][] {
    const out: [FrameHeader, number, number][] = [];
    for (let c = a; c < b; c += this.bucket) out.push([{ ...h, offset: c }, c, Math.min(b, c + this.bucket)]);
    return out;
  }

  private others(): number[] {
    return Array.from({ length: this.worldSize }, (_, k) => k).filter((k) => k !== this.rank);
  }
}

function dtypeOf(values: Values): number {
  return values instanceof Float64Array ? DType.f64 : DType.f32;
}

/** acc (+)= part, as reduceSlots: the first rank's values, then each next rank's added (or maxed) in order. */
function accumulate(acc: Float64Array, part: Values, first: boolean, op: ReduceOp): void {
  if (first) acc.set(part);
  else if (op === "max") for (let j = 0; j < acc.length; j++) acc[j] = Math.max(acc[j], part[j]);
  else for (let j = 0; j < acc.length; j++) acc[j] += part[j];
}
