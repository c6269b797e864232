// Runs the built service (service/dist/main.js) as a child process, as a user would, and
// talks to it with an independent client: `buf curl` over server reflection, in plaintext or,
// given the files, over TLS (https, with a CA and a client certificate to present).
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const mainJs = `${root}service/dist/main.js`;
const buf = `${root}node_modules/.bin/buf`;

export interface ServiceProcess {
  readonly port: number;
  readonly address: string;
  readonly child: ChildProcess;
  /** Everything it printed so far (JSON log lines). */
  output(): string;
  /** Sends the signal and waits for the process to exit; resolves with its exit code. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Waits for the process to exit by itself; resolves with its exit code. */
  exited(): Promise<number | null>;
}

const running = new Set<ServiceProcess>();

export interface StartOptions {
  /** The script node runs: service/dist/main.js unless told (e.g. an app's node_modules/.bin/spool-server). */
  entry?: string;
  /** Its command-line arguments. */
  args?: string[];
  /** Its working directory (relative --tasks and SPOOL_DATA_DIR resolve from it). */
  cwd?: string;
}

/** Starts the service with these environment variables (plus PATH/HOME) and waits until it serves. */
export async function startService(env: Record<string, string>, options: StartOptions = {}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [options.entry ?? mainJs, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", SPOOL_HOST: "127.0.0.1", SPOOL_PORT: "0", SPOOL_HTTP_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let output = "";
  // "close", not "exit": the last lines it printed (say "stopped") may still be in the pipe at "exit".
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"port":(\d+),[^\n]*"msg":"spool serving"/.exec(output);
      if (match) {
        clearTimeout(notServing);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    exited.then((code) => reject(new Error(`service exited with code ${code} before serving:\n${output}`)));
    const notServing = setTimeout(() => {
      // Not serving, so not in `running` for killAll: stop it here, or it outlives the test.
      child.kill("SIGKILL");
      reject(new Error(`service did not serve within 30 s:\n${output}`));
    }, 30_000);
    notServing.unref();
  });
  const service: ServiceProcess = {
    port,
    address: `127.0.0.1:${port}`,
    child,
    output: () => output,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return service.exited();
    },
    async exited() {
      const code = await exited;
      running.delete(service);
      return code;
    },
  };
  running.add(service);
  return service;
}

/** Kills whatever a test file left running. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.kill("SIGKILL")));
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** PEM files for `buf curl` over TLS: the CA to trust and, for mTLS, a client certificate. */
export interface CurlTls {
  cacert: string;
  cert?: string;
  key?: string;
}

/** The URL of a method (or, without one, of the server): https when TLS files are given. */
export function serviceUrl(service: ServiceProcess, tls?: CurlTls, method = ""): string {
  return `${tls ? "https" : "http"}://${service.address}${method}`;
}

/**
 * `buf curl` against the service, over reflection (no .proto files). Plaintext needs
 * --http2-prior-knowledge; over https, HTTP/2 is negotiated in the TLS handshake.
 */
export function bufCurl(service: ServiceProcess, args: string[], tls?: CurlTls): Promise<CurlResult> {
  const transport = tls
    ? ["--cacert", tls.cacert, ...(tls.cert ? ["--cert", tls.cert] : []), ...(tls.key ? ["--key", tls.key] : [])]
    : ["--http2-prior-knowledge"];
  return new Promise((resolve) => {
    execFile(
      buf,
      ["curl", "--protocol", "grpc", ...transport, ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Calls one TaskService method with a JSON request; the JSON response, or throws with the error. */
export async function curlCall(service: ServiceProcess, method: string, request: unknown, tls?: CurlTls): Promise<any> {
  const url = serviceUrl(service, tls, `/spool.v1.TaskService/${method}`);
  const result = await bufCurl(service, ["-d", JSON.stringify(request), url], tls);
  if (result.code !== 0) throw new CurlError(result);
  return JSON.parse(result.stdout);
}

export class CurlError extends Error {
  constructor(readonly result: CurlResult) {
    super(result.stderr || result.stdout);
  }
  /** The gRPC error as buf curl prints it: { code, message }. */
  get status(): { code: string; message: string } {
    return JSON.parse(this.result.stderr || this.result.stdout);
  }
}
