// Input schemas of the task kinds: a definition made with `defineTask({ input: schema })`
// declares a Standard Schema (zod, valibot, arktype...), and CreateTask checks the input
// against it before storing the task. A bad input is INVALID_ARGUMENT listing every problem
// with its field path (`input.items[2].sku: ...; input.email: ...`), so a caller fixes them
// all at once; the list is bounded (maxIssuesListed, then "and N more") and the message stays
// under the 1000 characters a status may carry. A good input is stored as the schema returns
// it (defaults applied, values coerced), so the handler gets what its type says.
import type { InputSchema, InputSchemaResult, TaskDefinition } from "@spool/sdk/task";
import { cut, maxErrorMessageLength, SpoolError } from "../errors.js";

/** Most problems one message lists; the rest are counted. */
export const maxIssuesListed = 10;
/** Longest text of one problem (path and message); a schema's message can be anything. */
const maxIssueLength = 200;
/** Room the listed problems may take, leaving enough for "; and N more" under the limit. */
const listBudget = maxErrorMessageLength - 100;

type Issue = Extract<InputSchemaResult<unknown>, { issues: unknown }>["issues"][number];

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
    throw new SpoolError("invalid_argument", describeIssues(field, result.issues));
  }
}

/**
 * `field.path: message` for each problem, in the schema's order, joined by "; ": at most
 * maxIssuesListed of them and no more than fit in the budget, then "and N more". Never empty:
 * a schema that fails without saying why still gets "<field>: invalid".
 */
export function describeIssues(field: string, issues: ReadonlyArray<Issue>): string {
  const listed: string[] = [];
  let length = 0;
  for (const issue of issues) {
    if (listed.length === maxIssuesListed) break;
    const message = typeof issue.message === "string" && issue.message !== "" ? issue.message : "invalid";
    const text = cut(`${field}${pathOf(issue.path)}: ${message}`, maxIssueLength);
    if (listed.length > 0 && length + text.length + 2 > listBudget) break;
    listed.push(text);
    length += text.length + 2;
  }
  if (listed.length === 0) return `${field}: invalid`;
  const rest = issues.length - listed.length;
  return `${listed.join("; ")}${rest > 0 ? `; and ${rest} more` : ""}`;
}

/** `.name`, `[2]`; a key that is not a plain name is quoted, and cut as any echoed value. */
function pathOf(path: Issue["path"]): string {
  let text = "";
  for (const segment of path ?? []) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment;
    if (typeof key === "number") text += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]{0,63}$/.test(key)) text += `.${key}`;
    else {
      const name = String(key);
      text += `[${JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name)}]`;
    }
  }
  return text;
}
