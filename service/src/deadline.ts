// A promise with a time limit: for the calls whose wait must be bounded even when the
// database never answers (lease renewal, the steps of a shutdown).

export class DeadlineExceeded extends Error {
  override readonly name = "DeadlineExceeded";
}

/** Settles as `promise` does, or rejects with DeadlineExceeded after `ms` (the promise goes on). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
