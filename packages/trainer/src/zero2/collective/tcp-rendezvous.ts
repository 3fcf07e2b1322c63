// torch.distributed's env:// rendezvous over plain TCP, ending in a full mesh: rank 0 listens on
// MASTER_ADDR:MASTER_PORT; every other rank listens on an ephemeral port of the interface it reaches the
// master through, connects to rank 0 and says hello (rank, world size, host, port); once all N − 1 have,
// rank 0 sends everyone the table of addresses; then rank r connects to ranks 1 … r − 1 and accepts
// ranks r + 1 … N − 1. Each rank ends with one socket per peer, or a CollectiveError naming who is missing.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { CollectiveError } from "./collective.js";
import { FrameOp, FrameSocket, type FrameSocketOptions, jsonFrame, parseJsonFrame } from "./frame-socket.js";

export interface RendezvousOptions extends FrameSocketOptions {
  rank: number;
  worldSize: number;
  /** Rank 0's address (MASTER_ADDR). */
  masterAddr: string;
  /** Rank 0's port (MASTER_PORT). */
  masterPort: number;
  /** Longest the whole rendezvous may take (ranks start at different times). Default 5 min. */
  connectTimeoutMs?: number;
}

interface Hello {
  rank: number;
  worldSize: number;
  host?: string;
  port?: number;
}

/** One FrameSocket per peer, indexed by rank (undefined at this rank). */
export async function rendezvous(o: RendezvousOptions): Promise<(FrameSocket | undefined)[]> {
  const { rank, worldSize: N } = o;
  const deadline = Date.now() + (o.connectTimeoutMs ?? 5 * 60_000);
  const peers: (FrameSocket | undefined)[] = new Array(N).fill(undefined);
  const fail = (message: string, peer?: number) => {
    for (const p of peers) p?.destroy();
    return new CollectiveError(`rendezvous: ${message}`, rank, peer);
  };
  if (N === 1) return peers;

  if (rank === 0) {
    const server = await listen(o.masterPort, o.masterAddr, rank);
    const hellos: Hello[] = [];
    try {
      await accept(server, N - 1, deadline, o, (hello, socket) => {
        if (hello.rank < 1 || hello.rank >= N)
          throw new Error(`a connection claims rank ${hello.rank} of ${N}`);
        if (peers[hello.rank]) throw new Error(`a second connection claims rank ${hello.rank}`);
        peers[hello.rank] = socket;
        hellos[hello.rank] = hello;
      });
    } catch (err) {
      const missing = peers.map((p, k) => (p || k === 0 ? -1 : k)).filter((k) => k >= 0);
      throw fail(`${(err as Error).message}; ranks not connected: ${missing.join(", ")}`);
    } finally {
      server.close();
    }
    const table = { hosts: hellos.map((h) => h?.host ?? ""), ports: hellos.map((h) => h?.port ?? 0) };
    await Promise.all(peers.map((p) => p?.send(...jsonFrame(FrameOp.peers, table))));
    return peers;
  }

  let master: FrameSocket;
  try {
    master = new FrameSocket(await connect(o.masterAddr, o.masterPort, deadline), o);
  } catch (err) {
    throw fail(`could not reach rank 0 at ${o.masterAddr}:${o.masterPort}: ${(err as Error).message}`, 0);
  }
  peers[0] = master;
  // Listen where rank 0 sees this rank (the interface that routes to MASTER_ADDR).
  const host = master.socket.localAddress ?? o.masterAddr;
  const server = await listen(0, host, rank);
  try {
    const incoming = accept(server, N - 1 - rank, deadline, o, (hello, socket) => {
      if (hello.rank <= rank || hello.rank >= N || peers[hello.rank])
        throw new Error(`unexpected connection claiming rank ${hello.rank}`);
      peers[hello.rank] = socket;
    });
    incoming.catch(() => {});
    const port = (server.address() as { port: number }).port;
    await master.send(...jsonFrame(FrameOp.hello, { rank, worldSize: N, host, port } satisfies Hello));
    const reply = master.next().catch((e: Error) => {
      throw new Error(`rank 0 closed the connection before sending the address table (${e.message})`);
    });
    const table = parseJsonFrame(await within(reply, deadline, "rank 0's address table"), FrameOp.peers);
    const hosts = table.hosts as string[];
    const ports = table.ports as number[];
    for (let j = 1; j < rank; j++) {
      const socket = new FrameSocket(await connect(hosts[j], ports[j], deadline), o);
      peers[j] = socket;
      await socket.send(...jsonFrame(FrameOp.hello, { rank, worldSize: N } satisfies Hello));
    }
    await incoming;
  } catch (err) {
    const missing = peers.map((p, k) => (p || k === rank ? -1 : k)).filter((k) => k >= 0);
    throw fail(`${(err as Error).message}; ranks not connected: ${missing.join(", ") || "none"}`);
  } finally {
    server.close();
  }
  return peers;
}

function listen(port: number, host: string, rank: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (err) =>
      reject(new CollectiveError(`rendezvous: cannot listen on ${host}:${port}: ${err.message}`, rank)),
    );
    server.listen(port, host, () => resolve(server));
  });
}

/** Accepts `count` connections, each introduced by a hello; rejects on a bad hello or at the deadline. */
function accept(
  server: Server,
  count: number,
  deadline: number,
  o: RendezvousOptions,
  register: (hello: Hello, socket: FrameSocket) => void,
): Promise<void> {
  if (count === 0) return Promise.resolve();
  let accepted = 0;
  return within(
    new Promise<void>((resolve, reject) => {
      server.on("connection", (raw: Socket) => {
        const socket = new FrameSocket(raw, o);
        socket
          .next()
          .then((frame) => {
            const hello = parseJsonFrame(frame, FrameOp.hello) as unknown as Hello;
            if (!Number.isInteger(hello.rank)) throw new Error(`a hello without a rank (${hello.rank})`);
            if (hello.worldSize !== o.worldSize)
              throw new Error(
                `rank ${hello.rank} has WORLD_SIZE=${hello.worldSize}, this rank ${o.worldSize}`,
              );
            register(hello, socket);
            if (++accepted === count) resolve();
          })
          .catch((err: Error) => {
            socket.destroy();
            reject(err);
          });
      });
    }),
    deadline,
    `${count} connection(s)`,
  );
}

/** Connects, retrying while the other side is not listening yet (ranks start in any order). */
async function connect(host: string, port: number, deadline: number): Promise<Socket> {
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = createConnection({ host, port });
        socket.once("connect", () => {
          socket.off("error", reject);
          resolve(socket);
        });
        socket.once("error", reject);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ETIMEDOUT"].includes(code ?? "")) throw err;
      if (Date.now() > deadline) throw new Error(`${code} until the rendezvous timed out`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function within<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${what}`)),
      Math.max(0, deadline - Date.now()),
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
