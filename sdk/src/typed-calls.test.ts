// Types of a typed call: a caller of `client.run(definition, input)` passes what the input
// schema ACCEPTS (its input type: fields with a default may be left out, a transform's source
// type), and the handler receives what the schema RETURNS (its output type). This file is
// checked by `npm run typecheck` (tsconfig.tests.json): a wrong type fails it, and so does an
// `@ts-expect-error` that no longer finds its error. Vitest runs the few checks made at run time.
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import type { SpoolClient } from "./client.js";
import { defineTask, type InputSchema, type TaskDefinition } from "./task.js";

const Signup = z.object({
  email: z.email(),
  plan: z.enum(["free", "pro"]).default("free"),
  tags: z.array(z.string()).default([]),
});

const welcome = defineTask({
  kind: "example.welcome",
  input: Signup,
  run(input) {
    // The handler gets the parsed value: defaults applied, so never undefined.
    expectTypeOf(input).toEqualTypeOf<{ email: string; plan: "free" | "pro"; tags: string[] }>();
    return { plan: input.plan };
  },
});

/** A schema whose input and output differ in kind: a string in, its length out. */
const length = defineTask({
  kind: "example.length",
  input: z.string().transform((text) => text.length),
  run: (input) => input * 2,
});

/** A hand-written Standard Schema that declares no `types`: callers pass what it returns. */
const evenNumber: InputSchema<number> = {
  "~standard": {
    version: 1,
    vendor: "test",
    validate: (value) => (typeof value === "number" && value % 2 === 0 ? { value } : { issues: [{ message: "not even" }] }),
  },
};
const half = defineTask({ kind: "example.half", input: evenNumber, run: (input) => input / 2 });

/** No schema: the handler's annotation is the type on both sides. */
const greet = defineTask({ kind: "example.greet", run: (input: { name: string }) => `hello ${input.name}` });

// Never called: only type-checked.
function calls(client: SpoolClient) {
  // A field with a default may be left out by the caller...
  expectTypeOf(client.run(welcome, { email: "a@example.com" })).resolves.toEqualTypeOf<{ plan: "free" | "pro" }>();
  void client.run(welcome, { email: "a@example.com", plan: "pro", tags: ["x"] });
  // ...but a required one may not, nor may a value outside the schema's input type.
  // @ts-expect-error email is required
  void client.run(welcome, { plan: "pro" });
  // @ts-expect-error plan is "free" or "pro"
  void client.run(welcome, { email: "a@example.com", plan: "gold" });

  // A transform: the caller passes its source type, the handler gets its result type.
  expectTypeOf(client.run(length, "four")).resolves.toEqualTypeOf<number>();
  // @ts-expect-error the caller passes a string, not the number the handler gets
  void client.run(length, 4);

  void client.run(half, 4);
  // @ts-expect-error a number
  void client.run(half, "4");

  expectTypeOf(client.run(greet, { name: "Ada" })).resolves.toEqualTypeOf<string>();
  // @ts-expect-error name is required
  void client.run(greet, {});
}

describe("typed calls", () => {
  it("the handler's parameter is the schema's output type", () => {
    expectTypeOf<Parameters<typeof welcome.run>[0]>().toEqualTypeOf<{ email: string; plan: "free" | "pro"; tags: string[] }>();
    expectTypeOf<Parameters<typeof length.run>[0]>().toEqualTypeOf<number>();
    expectTypeOf<Parameters<typeof half.run>[0]>().toEqualTypeOf<number>();
    // A definition typed by its two first parameters only is called with its handler's input.
    expectTypeOf<Parameters<SpoolClient["run"]>>().not.toBeNever();
    const typedByHand: TaskDefinition<{ n: number }, number> = defineTask({ kind: "example.byhand", run: (input: { n: number }) => input.n });
    expect(typedByHand.kind).toBe("example.byhand");
    expect(typeof calls).toBe("function");
  });

  it("the schema still validates at run time as the service calls it", async () => {
    expect(await welcome.input!["~standard"].validate({ email: "a@example.com" })).toEqual({
      value: { email: "a@example.com", plan: "free", tags: [] },
    });
    expect(await length.input!["~standard"].validate("four")).toEqual({ value: 4 });
    expect(half.run(4, undefined as never)).toBe(2);
  });
});
