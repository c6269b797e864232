// The backoff of each kind: `defineTask({ backoff })` sets the wait between attempts of its
// tasks, field by field over the defaults; a CreateTask's own backoff goes over the kind's
// (api/validate.ts). Checked when the handler modules load, in the main thread, so that a
// bad value stops the start naming the kind, instead of failing each create or retry later.
// A definition may come from another copy of the SDK than the service's, which may not have
// checked it: so it is checked here, whatever made it.
import { backoffProblem, defaultBackoff, resolveBackoff, type Backoff } from "@spool/proto";
import type { TaskDefinition } from "@spool/sdk/task";

export class KindBackoffs {
  readonly #backoffs: ReadonlyMap<string, Backoff>;

  constructor(backoffs: ReadonlyMap<string, Backoff>) {
    this.#backoffs = backoffs;
  }

  /** The definitions' backoffs, resolved; throws naming the first kind whose backoff is unusable. */
  static of(definitions: ReadonlyMap<string, TaskDefinition>): KindBackoffs {
    const backoffs = new Map<string, Backoff>();
    for (const [kind, definition] of definitions) {
      if (definition.backoff === undefined) continue;
      const problem = backoffProblem(definition.backoff);
      if (problem) throw new Error(`kind "${kind}": its backoff (defineTask) is unusable: ${problem}`);
      backoffs.set(kind, resolveBackoff(definition.backoff));
    }
    return new KindBackoffs(backoffs);
  }

  /** The backoff of a task of this kind that sets none: the kind's, else the defaults. */
  of(kind: string): Backoff {
    return this.#backoffs.get(kind) ?? defaultBackoff;
  }
}
