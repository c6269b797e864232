// The Redis BullMQ runs on: 127.0.0.1:6379 unless REDIS_PORT says otherwise.
export const bullConnection = () => ({ host: "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379) });

/** Completed jobs are removed, as BullMQ's docs advise for high volumes. */
export const bullJobOptions = { removeOnComplete: true, removeOnFail: 1000 };
