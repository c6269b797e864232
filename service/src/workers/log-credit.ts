// LogCredit: back-pressure on a worker thread's log lines, through one shared counter.
//
// The counter (an Int32 in a SharedArrayBuffer given to the thread at start) holds the bytes
// of log text the thread has posted that are not yet stored. Before posting a batch the
// thread takes credit for it; the main thread gives the credit back once the batch is written
// (or given up). When the window is full the thread waits (Atomics.wait blocks it, so a
// handler that logs in a loop slows down to the speed of storage) for at most maxWaitMs; if
// no credit came by then, the thread drops the batch and counts it (thread.ts stores a marker
// line saying how many lines were lost).
//
// Guarantees:
//   - the main thread never holds more than windowBytes (plus one batch) of one thread's log
//     text: memory stays flat whatever a task logs;
//   - one chatty task cannot take another task's share: each thread has its own counter;
//   - a batch larger than the window still goes when nothing else is in flight.

/** A fresh counter, to hand to one thread (workerData) and keep on the main side. */
export function createLogCredit(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

/**
 * Thread side: takes credit for `bytes`, waiting up to `maxWaitMs` for the main thread to
 * return some when the window is full. False if none came in time (the caller drops).
 */
export function takeCredit(credit: Int32Array, bytes: number, windowBytes: number, maxWaitMs: number): boolean {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const inFlight = Atomics.load(credit, 0);
    if (inFlight === 0 || inFlight + bytes <= windowBytes) {
      if (Atomics.compareExchange(credit, 0, inFlight, inFlight + bytes) === inFlight) return true;
      continue; // the main thread returned credit meanwhile: look again
    }
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(credit, 0, inFlight, left);
  }
}

/** Main side: gives back the credit of a batch that was stored (or given up). */
export function returnCredit(credit: Int32Array, bytes: number): void {
  Atomics.sub(credit, 0, bytes);
  Atomics.notify(credit, 0);
}
