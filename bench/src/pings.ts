// Receives the UDP pings of bench.ping handlers (Spool's and graphile-worker's): "<i> <stamp>".
import { createSocket } from "node:dgram";

export interface Pings {
  readonly port: number;
  /** Resolves with the handler's start stamp for ping i. */
  next(i: number): Promise<number>;
  close(): void;
}

export async function listenForPings(): Promise<Pings> {
  const socket = createSocket("udp4");
  const arrived = new Map<number, number>();
  const waiting = new Map<number, (stamp: number) => void>();
  socket.on("message", (message) => {
    const [i, stamp] = message.toString().split(" ").map(Number) as [number, number];
    const waiter = waiting.get(i);
    if (waiter) {
      waiting.delete(i);
      waiter(stamp);
    } else {
      arrived.set(i, stamp);
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    next(i) {
      const stamp = arrived.get(i);
      if (stamp !== undefined) {
        arrived.delete(i);
        return Promise.resolve(stamp);
      }
      return new Promise((resolve, reject) => {
        waiting.set(i, resolve);
        setTimeout(() => {
          if (waiting.delete(i)) reject(new Error(`ping ${i} never arrived`));
        }, 30_000).unref();
      });
    },
    close: () => socket.close(),
  };
}
