// One clock for every process and thread of the benchmark: CLOCK_MONOTONIC (process.hrtime),
// which all processes of the machine share, so a stamp taken in a worker thread of the
// service compares directly with one taken in the benchmark process.
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;
