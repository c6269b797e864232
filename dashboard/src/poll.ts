// Live data without a reload: a view's loader runs now, then again every `everyMs` after the
// last one ended (never two at once), while the tab is visible; at once when asked.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { errorText } from "./api.js";

export interface Polled<T> {
  data: T | undefined;
  /** The last load's failure, if it failed (the last data stays shown). */
  error: string | undefined;
  /** Loads again now. */
  reload(): void;
}

export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, keys: readonly unknown[], everyMs = 2000): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const wake = useRef<() => void>(() => {});
  useEffect(() => {
    const aborter = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    const run = async () => {
      if (running || aborter.signal.aborted) return;
      clearTimeout(timer);
      running = true;
      try {
        if (!document.hidden) {
          const value = await load(aborter.signal);
          if (aborter.signal.aborted) return;
          setData(value);
          setError(undefined);
        }
      } catch (failure) {
        if (!aborter.signal.aborted) setError(errorText(failure));
      } finally {
        running = false;
        if (!aborter.signal.aborted) timer = setTimeout(() => void run(), everyMs);
      }
    };
    wake.current = () => void run();
    const visible = () => !document.hidden && void run();
    document.addEventListener("visibilitychange", visible);
    void run();
    return () => {
      aborter.abort();
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", visible);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, keys);
  const reload = useCallback(() => wake.current(), []);
  return { data, error, reload };
}
