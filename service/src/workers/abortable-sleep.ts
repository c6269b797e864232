// ctx.sleep: a wait that a run's AbortSignal (cancel, timeout, shutdown) cuts short.
//
// Guarantees:
//   - resolves after `ms`, whatever its length: setTimeout holds at most 2^31-1 ms (24.8 days)
//     and fires after 1 ms, with a warning, past that, so a longer wait chains timers;
//     `Infinity` waits for the signal alone;
//   - rejects with `signal.reason` when the signal fires (at once if it already has), so an
//     awaited sleep ends the run the way the abort meant;
//   - leaves nothing behind: the timer is cleared on abort, the abort listener removed when
//     the wait ends either way;
//   - when `abandoned()` is true at the abort (the run is over: the pool aborts a run's signal
//     once it has ended, to stop what it left behind), the wait is only cleaned up, never
//     settled. A sleep the handler started and then did not await is still pending then, and
//     nobody handles its rejection: rejecting would be an unhandled rejection, which marks
//     the thread for replacement. A promise that never settles and holds no timer is simply
//     collected.
//   - `ms` that is not a number >= 0 rejects with a RangeError.
const maxTimerMs = 2 ** 31 - 1;

export function abortableSleep(ms: number, signal: AbortSignal, abandoned: () => boolean = () => false): Promise<void> {
  if (typeof ms !== "number" || !(ms >= 0)) {
    return Promise.reject(new RangeError(`ctx.sleep: ms must be a number of milliseconds >= 0, not ${String(ms)}`));
  }
  if (signal.aborted) return abandoned() ? new Promise<void>(() => {}) : Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    let left = ms;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      if (!abandoned()) reject(signal.reason);
    };
    const next = () => {
      if (left <= 0) {
        signal.removeEventListener("abort", onAbort);
        resolve();
        return;
      }
      const step = Math.min(left, maxTimerMs);
      left -= step; // Infinity stays Infinity: a chain that only the signal ends
      timer = setTimeout(next, step);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    next();
  });
}
