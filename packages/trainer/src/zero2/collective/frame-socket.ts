// One TCP connection between two ranks, as a stream of frames: a 16-byte little-endian header and a raw
// payload (float32 / float64 values as they lie in memory, or a small JSON control message). Sending
// writes the typed array's own bytes (no copy, no JSON) and resolves once the kernel has them, so the
// caller may overwrite the array afterwards. Received frames queue in arrival order; past `maxQueued`
// the socket is paused, so a fast peer cannot make this rank buffer a whole gradient (TCP flow control).
import type { Socket } from "node:net";

export const HEADER_BYTES = 16;
const VERSION = 1;

/** Frame kinds: one per collective operation, plus the rendezvous and shutdown controls. */
export const FrameOp = {
  reduceScatter: 1,
  allGather: 2,
  allReduce: 3,
  broadcast: 4,
  barrier: 5,
  hello: 16,
  peers: 17,
  abort: 18,
  bye: 19,
} as const;

export const DType = { none: 0, f32: 1, f64: 2, json: 3 } as const;

export interface FrameHeader {
  op: number;
  dtype: number;
  /** allReduce: 0 = reduce-scatter, 1 = all-gather. */
  phase: number;
  /** The operation's sequence number: the same on every rank, since every rank calls the same operations. */
  seq: number;
  /** Index of the payload's first value in the operation's array. */
  offset: number;
}

export interface Frame extends FrameHeader {
  /** Its own ArrayBuffer at offset 0, so float views are aligned. */
  payload: Uint8Array;
}

// Header: u8 op, u8 dtype, u8 phase, u8 version, u32 seq, u32 offset, u32 payload bytes.
function encodeHeader(h: FrameHeader, bytes: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeUInt8(h.op, 0);
  b.writeUInt8(h.dtype, 1);
  b.writeUInt8(h.phase, 2);
  b.writeUInt8(VERSION, 3);
  b.writeUInt32LE(h.seq >>> 0, 4);
  b.writeUInt32LE(h.offset, 8);
  b.writeUInt32LE(bytes, 12);
  return b;
}

export function jsonFrame(op: number, value: unknown): [FrameHeader, Uint8Array] {
  return [{ op, dtype: DType.json, phase: 0, seq: 0, offset: 0 }, Buffer.from(JSON.stringify(value))];
}

export function parseJsonFrame(frame: Frame, op: number): Record<string, unknown> {
  if (frame.op !== op || frame.dtype !== DType.json)
    throw new Error(`expected control frame ${op}, got op ${frame.op} (dtype ${frame.dtype})`);
  return JSON.parse(Buffer.from(frame.payload).toString("utf8"));
}

export interface FrameSocketOptions {
  /** Frames held before the socket is paused. Default 2. */
  maxQueued?: number;
  /** Kernel TCP keep-alive delay: a vanished machine is noticed even while JS computes. Default 10 s. */
  keepAliveMs?: number;
}

export class FrameSocket {
  /** Why the connection ended (set once, on 'close'). */
  closed?: Error;
  private onControl?: (frame: Frame) => void;
  private onClose?: (reason: Error) => void;
  private readonly controls: Frame[] = [];
  private readonly queue: Frame[] = [];
  private waiter?: { resolve: (f: Frame) => void; reject: (e: Error) => void };
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private pending?: { header: FrameHeader; payload: Uint8Array; fill: number };
  private error?: Error;
  private paused = false;
  private readonly maxQueued: number;

  constructor(
    readonly socket: Socket,
    options: FrameSocketOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? 2;
    socket.setNoDelay(true); // scalars (loss weights, norms) must not wait for Nagle
    socket.setKeepAlive(true, options.keepAliveMs ?? 10_000);
    socket.on("data", (chunk: Buffer) => {
      try {
        this.onData(chunk);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on("error", (err) => {
      this.error ??= err;
    });
    socket.on("close", () => {
      this.closed = this.error ?? new Error("connection closed");
      this.waiter?.reject(this.closed);
      this.waiter = undefined;
      this.onClose?.(this.closed);
    });
  }

  /**
   * Control frames (abort, bye) go to `onControl` instead of the queue, and `onClose` is called once when
   * the connection ends; what happened before this call (e.g. during the rendezvous) is replayed.
   */
  watch(onControl: (frame: Frame) => void, onClose: (reason: Error) => void): void {
    this.onControl = onControl;
    this.onClose = onClose;
    for (const frame of this.controls.splice(0)) onControl(frame);
    if (this.closed) onClose(this.closed);
  }

  /** The next data frame, in arrival order; rejects once the connection has ended and the queue is empty. */
  next(): Promise<Frame> {
    const frame = this.queue.shift();
    if (frame) {
      if (this.paused && this.queue.length < this.maxQueued) {
        this.paused = false;
        this.socket.resume();
      }
      return Promise.resolve(frame);
    }
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Writes one frame; resolves when its bytes are in the kernel (the payload may then be reused). */
  send(h: FrameHeader, payload?: ArrayBufferView): Promise<void> {
    if (this.closed || this.socket.writableEnded)
      return Promise.reject(this.closed ?? new Error("connection already ended"));
    const bytes = payload?.byteLength ?? 0;
    const head = encodeHeader(h, bytes);
    return new Promise((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (!payload || bytes === 0) {
        this.socket.write(head, done);
        return;
      }
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(new Uint8Array(payload.buffer, payload.byteOffset, bytes), done);
      this.socket.uncork();
    });
  }

  /** Half-closes after everything written so far; resolves when it is flushed (or the socket is gone). */
  end(): Promise<void> {
    if (this.closed || this.socket.writableEnded) return Promise.resolve();
    return new Promise((resolve) => this.socket.end(() => resolve()));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.pending) {
        const n = Math.min(HEADER_BYTES - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill < HEADER_BYTES) return;
        this.headerFill = 0;
        const h = this.header;
        if (h.readUInt8(3) !== VERSION)
          throw new Error(`bad frame header (version ${h.readUInt8(3)}, expected ${VERSION})`);
        const header = {
          op: h.readUInt8(0),
          dtype: h.readUInt8(1),
          phase: h.readUInt8(2),
          seq: h.readUInt32LE(4),
          offset: h.readUInt32LE(8),
        };
        this.pending = { header, payload: new Uint8Array(h.readUInt32LE(12)), fill: 0 };
      }
      const p = this.pending;
      const n = Math.min(p.payload.length - p.fill, chunk.length - at);
      p.payload.set(chunk.subarray(at, at + n), p.fill);
      p.fill += n;
      at += n;
      if (p.fill === p.payload.length) {
        this.pending = undefined;
        this.deliver({ ...p.header, payload: p.payload });
      }
    }
  }

  private deliver(frame: Frame): void {
    if (frame.op === FrameOp.abort || frame.op === FrameOp.bye) {
      if (this.onControl) this.onControl(frame);
      else this.controls.push(frame);
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(frame);
      return;
    }
    this.queue.push(frame);
    if (!this.paused && this.queue.length >= this.maxQueued) {
      this.paused = true;
      this.socket.pause();
    }
  }
}
