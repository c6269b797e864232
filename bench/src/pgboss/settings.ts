// The pg-boss settings the producer (subjects.ts) and the workers (runner.ts) share.
import type { ConstructorOptions } from "pg-boss";

export const pgBossQueues = ["noop", "ping"] as const;

export function pgBossOptions(connectionString: string): ConstructorOptions {
  return { connectionString, useListenNotify: true, max: 10 } as ConstructorOptions;
}
