// Following a server stream that may be cut (a replica restarting, a connection recycled):
// run it, and when it ends with an error, run it again after a pause that grows to 5 s,
// until it ends cleanly or the view goes away.
import { Code, ConnectError } from "@connectrpc/connect";

export function follow(run: (signal: AbortSignal) => Promise<void>, onError: (message: string | undefined) => void): () => void {
  const aborter = new AbortController();
  void (async () => {
    for (let failures = 0; !aborter.signal.aborted; ) {
      try {
        await run(aborter.signal);
        onError(undefined);
        return;
      } catch (error) {
        if (aborter.signal.aborted) return;
        const failure = ConnectError.from(error);
        // A refusal will not change by asking again.
        if ([Code.NotFound, Code.PermissionDenied, Code.Unauthenticated, Code.InvalidArgument].includes(failure.code)) {
          onError(`${Code[failure.code]}: ${failure.rawMessage}`);
          return;
        }
        onError(`reconnecting (${Code[failure.code]}: ${failure.rawMessage})`);
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** failures)));
      }
    }
  })();
  return () => aborter.abort();
}
