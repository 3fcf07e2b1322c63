// The transport under TcpCollective: one FrameSocket per peer, operations run one at a time in call
// order, each with a timeout, and one failure state. Any failure (a peer's abort notice, a socket closed
// without a goodbye, a timeout, a frame that is not the one expected) is final: pending and later
// operations reject with the same CollectiveError, and the peers are told (an abort notice naming the
// rank that caused it), so nobody waits on a rank that will never answer.
import { CollectiveError } from "./collective.js";
import { formatMs } from "./format-ms.js";
import { DType, type Frame, type FrameHeader, FrameOp, type FrameSocket, jsonFrame } from "./frame-socket.js";

export type Values = Float32Array | Float64Array;

/** The frame a receive expects: its header and how many values. */
export interface Expected extends FrameHeader {
  count: number;
}

const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(FrameOp).map(([k, v]) => [v, k]));

export class TcpMesh {
  private seq = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private failure?: CollectiveError;
  private readonly failed: Promise<never>;
  private rejectFailed!: (e: CollectiveError) => void;
  private aborting: Promise<void> = Promise.resolve();
  private closing = false;
  private current = "";
  private waitingFor?: number;
  /** Peers that said goodbye: their closing is not a failure. */
  private readonly finished: boolean[];
  /** Frames written to each peer and not yet in the kernel. */
  private readonly writing: number[];

  constructor(
    readonly rank: number,
    private readonly peers: (FrameSocket | undefined)[],
    private readonly timeoutMs: number,
  ) {
    this.finished = peers.map(() => false);
    this.writing = peers.map(() => 0);
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => {}); // raced by every operation; never an unhandled rejection on its own
    for (const [k, socket] of peers.entries())
      socket?.watch(
        (f) => this.onControl(k, f),
        (e) => this.onPeerClosed(k, e),
      );
  }

  /** The failure that ended this mesh, if any. */
  get error(): CollectiveError | undefined {
    return this.failure;
  }

  /** Throws the failure, if any (an operation that needs no peer still reports it). */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * Runs `body` after the operations called before it, with a header carrying the op and its sequence
   * number (the same on every rank); rejects on the mesh's failure or after `timeoutMs`.
   */
  run(name: string, body: (h: FrameHeader) => Promise<void>): Promise<void> {
    const seq = this.seq++;
    if (this.closing)
      return Promise.reject(new CollectiveError(`${name}: the collective is closed`, this.rank));
    const result = this.tail.then(() => this.execute(`${name} #${seq}`, seq, name, body));
    this.tail = result.catch(() => {});
    return result;
  }

  private async execute(label: string, seq: number, name: string, body: (h: FrameHeader) => Promise<void>) {
    this.check();
    this.current = label;
    this.waitingFor = undefined;
    const timer = setTimeout(() => {
      // The peer it was reading from, else the first one its writes are stuck on.
      const who = this.waitingFor ?? this.writing.findIndex((n) => n > 0);
      // The rank it waited for is the cause (stopped, or stuck in a loop): named as the failed one, so
      // the launcher and the other ranks blame it, not this rank.
      this.fail(
        new CollectiveError(
          `${label} waited ${formatMs(this.timeoutMs)} for ${who >= 0 ? `rank ${who}, which stopped answering` : "its peers, which stopped answering"} (the collective timeout)`,
          this.rank,
          who >= 0 ? who : undefined,
        ),
      );
    }, this.timeoutMs);
    const op = FrameOp[name as keyof typeof FrameOp];
    const work = body({ op, dtype: DType.none, phase: 0, seq: seq >>> 0, offset: 0 });
    work.catch(() => {});
    try {
      await Promise.race([work, this.failed]);
    } finally {
      clearTimeout(timer);
      this.current = "";
    }
  }

  send(k: number, h: FrameHeader, payload?: Values): Promise<void> {
    this.writing[k]++;
    return this.peers[k]!.send(h, payload).then(
      () => {
        this.writing[k]--;
      },
      (err: Error) => {
        this.writing[k]--;
        throw this.fail(this.lost(k, `sending to rank ${k} failed during ${this.current} (${err.message})`));
      },
    );
  }

  async receive(k: number, x: Expected): Promise<Values> {
    this.waitingFor = k;
    let frame: Frame;
    try {
      frame = await this.peers[k]!.next();
    } catch (err) {
      throw this.fail(
        this.lost(k, `rank ${k} closed its connection during ${this.current} (${(err as Error).message})`),
      );
    }
    this.waitingFor = undefined;
    const f64 = frame.dtype === DType.f64;
    const count = frame.payload.byteLength / (f64 ? 8 : 4);
    const same = (["op", "dtype", "phase", "seq", "offset"] as const).every((key) => frame[key] === x[key]);
    if (!same || count !== x.count)
      throw this.fail(
        new CollectiveError(
          `${this.current}: rank ${k} sent ${describe(frame, count)}, expected ${describe(x, x.count)} ` +
            "(do all ranks call the same operations, in the same order, on arrays of the same length?)",
          this.rank,
        ),
      );
    if (count === 0) return new Float32Array(0);
    return f64
      ? new Float64Array(frame.payload.buffer, 0, count)
      : new Float32Array(frame.payload.buffer, 0, count);
  }

  /** A peer is gone: its failure, unless it had said goodbye (then this rank asked for too much). */
  private lost(k: number, message: string): CollectiveError {
    if (!this.finished[k]) return new CollectiveError(message, this.rank, k);
    return new CollectiveError(
      `${this.current} needs rank ${k}, which has already closed the collective (do all ranks call the same operations?)`,
      this.rank,
    );
  }

  private onControl(k: number, frame: Frame): void {
    if (frame.op === FrameOp.bye) {
      this.finished[k] = true;
      return;
    }
    let notice: { failedRank?: number; message?: string } = {};
    try {
      notice = JSON.parse(Buffer.from(frame.payload).toString("utf8"));
    } catch {}
    const by = Number.isInteger(notice.failedRank) ? notice.failedRank! : k;
    const detail = by === k ? (notice.message ? `: ${notice.message}` : "") : ` (reported by rank ${k})`;
    const what =
      by === this.rank // a peer gave up waiting for this rank
        ? `aborted by rank ${k}${notice.message ? `: ${notice.message}` : ""}`
        : `aborted: rank ${by} failed${detail}`;
    this.fail(new CollectiveError(what, this.rank, by));
  }

  private onPeerClosed(k: number, reason: Error): void {
    if (this.finished[k] || this.failure) return;
    if (this.closing && !this.current) return; // our own close() raced the peer's
    const during = this.current ? ` during ${this.current}` : "";
    this.fail(
      new CollectiveError(`rank ${k} closed its connection${during} (${reason.message})`, this.rank, k),
    );
  }

  /** Records the first failure, rejects every waiting operation, and tells the peers. Returns the first. */
  private fail(
    error: CollectiveError,
    message = error.message.replace(`rank ${this.rank}: `, ""),
  ): CollectiveError {
    if (this.failure) return this.failure;
    this.failure = error;
    this.rejectFailed(error);
    const notice = jsonFrame(FrameOp.abort, { failedRank: error.failedRank ?? this.rank, message });
    this.aborting = Promise.all(
      this.peers.map((p) =>
        p && !p.closed
          ? p.send(...notice).then(
              () => p.end(),
              () => p.destroy(),
            )
          : undefined,
      ),
    ).then(() => {});
    return error;
  }

  /**
   * Ends cleanly after the operations already called: a goodbye to every peer (so its closing is not a
   * failure), then the sockets are half-closed. Later operations reject.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.tail;
    if (this.failure) return this.aborting;
    const bye: FrameHeader = { op: FrameOp.bye, dtype: DType.none, phase: 0, seq: 0, offset: 0 };
    await Promise.all(
      this.peers.map((p) =>
        p?.send(bye).then(
          () => p.end(),
          () => p.destroy(),
        ),
      ),
    );
  }

  /**
   * This rank failed (`reason`): every peer is told (its operations reject with "aborted: rank r failed"),
   * and this mesh rejects everything from now on. Resolves once the notices are sent (≤ 1 s).
   */
  abort(reason: unknown): Promise<void> {
    const message = reason instanceof Error ? reason.message : String(reason);
    this.fail(new CollectiveError(`aborted: ${message}`, this.rank), message);
    return Promise.race([this.aborting, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
  }
}

function describe(h: FrameHeader, count: number): string {
  const kind = h.dtype === DType.f64 ? "float64" : h.dtype === DType.f32 ? "float32" : "no";
  const phase = h.op === FrameOp.allReduce ? ` phase ${h.phase}` : "";
  return `${OP_NAMES[h.op] ?? `op ${h.op}`}${phase} #${h.seq} with ${count} ${kind} values at ${h.offset}`;
}
