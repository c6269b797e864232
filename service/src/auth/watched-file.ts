// A configuration file that is read at start and read again when it changes, so that
// credentials (tokens, a JWKS) rotate without a restart.
//
// - The first read must succeed: a missing or invalid file stops the start, with the error
//   naming the file.
// - Later reads that fail (a half-written file, a bad edit) keep the last good value and log
//   a warning; the next change is tried again.
// - Changes are noticed by polling the file's status every `intervalMs` (fs.watchFile): it
//   works for files replaced by rename, by a Kubernetes secret's symlink swap, and on network
//   file systems, where inotify-based fs.watch does not. The poll keeps no process alive.
import { readFileSync, unwatchFile, watchFile, type Stats } from "node:fs";
import type { Logger } from "pino";

export class WatchedFile<T> {
  #value: T;
  readonly #listener: (current: Stats, previous: Stats) => void;

  constructor(
    readonly path: string,
    parse: (text: string) => T,
    log: Logger,
    intervalMs = 2000,
  ) {
    this.#value = parse(readFileSync(path, "utf8"));
    this.#listener = (current, previous) => {
      if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
      try {
        this.#value = parse(readFileSync(path, "utf8"));
        log.info({ path }, "reloaded");
      } catch (error) {
        log.warn({ path, err: error }, "could not reload; keeping the previous version");
      }
    };
    watchFile(path, { interval: intervalMs, persistent: false }, this.#listener);
  }

  get value(): T {
    return this.#value;
  }

  close(): void {
    unwatchFile(this.path, this.#listener);
  }
}
