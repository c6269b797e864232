// Input schemas of the task kinds: a definition made with `defineTask({ input: schema })`
// declares a Standard Schema (zod, valibot, arktype...), and CreateTask checks the input
// against it before storing the task. A bad input is INVALID_ARGUMENT naming the field path
// (`input.items[2].sku: ...`); a good one is stored as the schema returns it (defaults
// applied, values coerced), so the handler gets what its type says.
import type { InputSchema, TaskDefinition } from "@spool/sdk/task";
import { SpoolError } from "../errors.js";

export class InputSchemas {
  readonly #schemas: ReadonlyMap<string, InputSchema<unknown>>;

  constructor(schemas: ReadonlyMap<string, InputSchema<unknown>>) {
    this.#schemas = schemas;
  }

  /** The schemas the task definitions declare (the handler modules, loaded in this thread too). */
  static of(definitions: ReadonlyMap<string, TaskDefinition>): InputSchemas {
    const schemas = new Map<string, InputSchema<unknown>>();
    for (const [kind, definition] of definitions) {
      if (definition.input) schemas.set(kind, definition.input as InputSchema<unknown>);
    }
    return new InputSchemas(schemas);
  }

  /** The input to store: as given when the kind has no schema, else as the schema returns it. */
  async check(kind: string, input: unknown, field: string): Promise<unknown> {
    const schema = this.#schemas.get(kind);
    if (!schema) return input;
    let result;
    try {
      result = await schema["~standard"].validate(input);
    } catch (error) {
      throw new SpoolError("internal", `${field}: the input schema of ${kind} threw: ${(error as Error).message}`);
    }
    if (!result.issues) return result.value;
    const [first] = result.issues;
    const more = result.issues.length > 1 ? ` (and ${result.issues.length - 1} more problems)` : "";
    throw new SpoolError("invalid_argument", `${field}${pathOf(first?.path)}: ${first?.message ?? "invalid"}${more}`);
  }
}

function pathOf(path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined): string {
  let text = "";
  for (const segment of path ?? []) {
    const key = typeof segment === "object" ? segment.key : segment;
    text += typeof key === "number" ? `[${key}]` : `.${String(key)}`;
  }
  return text;
}
