// Child processes of the benchmark (the Spool service, the graphile-worker runner) and their
// memory, read from /proc.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

export interface Child {
  readonly process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node script` and resolves once a line of its output matches `ready`. */
export async function startChild(script: string, env: Record<string, string>, ready: RegExp): Promise<{ child: Child; match: RegExpExecArray }> {
  const process_ = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => process_.once("exit", () => resolve()));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 1_000_000) output = output.slice(-100_000);
      const found = ready.exec(output);
      if (found) resolve(found);
    };
    process_.stdout.on("data", onData);
    process_.stderr.on("data", onData);
    void exited.then(() => reject(new Error(`${script} exited before it was ready:\n${output}`)));
    setTimeout(() => reject(new Error(`${script} was not ready within 60 s:\n${output}`)), 60_000).unref();
  });
  return {
    match,
    child: {
      process: process_,
      output: () => output,
      async stop() {
        if (process_.exitCode === null && process_.signalCode === null) process_.kill("SIGTERM");
        const timer = setTimeout(() => process_.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      },
    },
  };
}

/** Resident memory of a process in MB: now (VmRSS) and its peak so far (VmHWM). */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMb: Math.round(kb("VmRSS") / 102.4) / 10, peakMb: Math.round(kb("VmHWM") / 102.4) / 10 };
}
