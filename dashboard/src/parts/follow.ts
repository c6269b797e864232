// Following a server stream that may be cut (a replica restarting, a connection recycled):
// run it, and when it ends with an error, run it again after a pause that grows to 5 s,
// until it ends cleanly or the view goes away.
//
// A hidden tab lets go of its stream and takes it up again when shown: over HTTP/1.1 a
// browser keeps at most six connections to a host, shared by all its tabs, and each followed
// stream holds one, so background tabs would otherwise starve the visible one. `run` must
// resume where it stopped (StreamLogs from the last line seen; WatchTask sends the task anew).
import { Code, ConnectError } from "@connectrpc/connect";

export function follow(run: (signal: AbortSignal) => Promise<void>, onError: (message: string | undefined) => void): () => void {
  const view = new AbortController();
  let current: AbortController | undefined;
  let wake: () => void = () => {};
  const visibility = () => {
    if (document.hidden) current?.abort();
    else wake();
  };
  document.addEventListener("visibilitychange", visibility);
  void (async () => {
    for (let failures = 0; !view.signal.aborted; ) {
      if (document.hidden) await new Promise<void>((resolve) => (wake = resolve));
      if (view.signal.aborted) return;
      current = new AbortController();
      const stop = () => current?.abort();
      view.signal.addEventListener("abort", stop, { once: true });
      try {
        await run(current.signal);
        if (current.signal.aborted && !view.signal.aborted) continue; // cut short by hiding
        onError(undefined);
        return;
      } catch (error) {
        if (view.signal.aborted) return;
        if (current.signal.aborted) continue; // hidden: wait to be shown, then resume
        const failure = ConnectError.from(error);
        // A refusal will not change by asking again.
        if ([Code.NotFound, Code.PermissionDenied, Code.Unauthenticated, Code.InvalidArgument].includes(failure.code)) {
          onError(`${Code[failure.code]}: ${failure.rawMessage}`);
          return;
        }
        onError(`reconnecting (${Code[failure.code]}: ${failure.rawMessage})`);
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** failures)));
      } finally {
        view.signal.removeEventListener("abort", stop);
      }
    }
  })();
  return () => {
    document.removeEventListener("visibilitychange", visibility);
    view.abort();
    wake();
  };
}
