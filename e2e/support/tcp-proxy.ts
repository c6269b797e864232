// A pass-through TCP proxy on loopback that counts the connections made through it, so a
// test can see a client reconnect (after the server cut its connection) without looking
// inside the client. Bytes are forwarded unchanged in both directions, until freeze() makes
// the connections open at that moment go silent: no byte and no close passes any more, as
// when a host vanishes from the network.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  /** host:port to connect to instead of the target. */
  readonly address: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections that the target side closed first (and were not frozen). */
  readonly closedByTarget: number;
  /** Silences every connection open now; new ones are forwarded as usual. */
  freeze(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  target: Socket;
  frozen: boolean;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  let connections = 0;
  let closedByTarget = 0;
  const sockets = new Set<Socket>();
  const pairs = new Set<Pair>();
  const server: Server = createServer((client) => {
    connections++;
    const target = connect({ host: targetHost, port: targetPort });
    for (const socket of [client, target]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {}); // the other side is closed below; nothing to report
    }
    client.pipe(target);
    target.pipe(client);
    const pair: Pair = { client, target, frozen: false };
    pairs.add(pair);
    let clientClosed = false;
    client.on("close", () => {
      clientClosed = true;
      pairs.delete(pair);
      if (!pair.frozen) target.destroy();
    });
    target.on("close", () => {
      if (pair.frozen) return; // each side finds out by itself
      if (!clientClosed) closedByTarget++;
      client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    get closedByTarget() {
      return closedByTarget;
    },
    freeze() {
      for (const pair of pairs) {
        pair.frozen = true;
        pair.client.unpipe(pair.target);
        pair.target.unpipe(pair.client);
        pair.client.pause();
        pair.target.pause();
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
