// How CreateTask reports a rejected input: every problem with its field path, bounded in
// count and in length, through real zod schemas and hand-written Standard Schemas.
import type { InputSchema } from "@spool/sdk/task";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { maxErrorMessageLength, SpoolError } from "../errors.js";
import { InputSchemas, maxIssuesListed } from "./input-schemas.js";

const schemas = (schema: InputSchema<unknown>) => new InputSchemas(new Map([["k", schema]]));

async function rejection(schema: InputSchema<unknown>, input: unknown, field = "input"): Promise<string> {
  const error = await schemas(schema).check("k", input, field).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SpoolError);
  expect((error as SpoolError).code).toBe("invalid_argument");
  return (error as SpoolError).message;
}

/** A Standard Schema that always fails with these issues. */
const failing = (issues: { message: string; path?: PropertyKey[] }[]): InputSchema<unknown> => ({
  "~standard": { version: 1, vendor: "test", validate: () => ({ issues }) },
});

describe("input schema problems", () => {
  it("lists every problem as field.path: message", async () => {
    const Order = z.object({ email: z.email(), items: z.array(z.object({ sku: z.string(), qty: z.number().int() })) });
    const message = await rejection(Order, { email: "nope", items: [{ sku: "a", qty: 1 }, { sku: 7, qty: 1.5 }] }, "tasks[3].input");
    const listed = message.split("; ");
    expect(listed).toHaveLength(3);
    expect(listed[0]).toMatch(/^tasks\[3\]\.input\.email: ./);
    expect(listed[1]).toMatch(/^tasks\[3\]\.input\.items\[1\]\.sku: ./);
    expect(listed[2]).toMatch(/^tasks\[3\]\.input\.items\[1\]\.qty: ./);
  });

  it("a single problem is just that problem", async () => {
    expect(await rejection(z.object({ seconds: z.number() }), { seconds: "x" })).toMatch(/^input\.seconds: [^;]+$/);
  });

  it(`lists at most ${maxIssuesListed}, then says how many more`, async () => {
    const fields = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`f${i}`, z.number()]));
    const message = await rejection(z.object(fields), {});
    const listed = message.split("; ");
    expect(listed).toHaveLength(maxIssuesListed + 1);
    expect(listed.slice(0, maxIssuesListed)).toEqual(Array.from({ length: maxIssuesListed }, (_, i) => expect.stringMatching(new RegExp(`^input\\.f${i}: `))));
    expect(listed.at(-1)).toBe(`and ${25 - maxIssuesListed} more`);
  });

  it("stays under the status message limit however long the schema's messages and keys are", async () => {
    const long = "x".repeat(5000);
    const message = await rejection(
      failing(Array.from({ length: 8 }, (_, i) => ({ message: `${long}${i}`, path: [`key${i}`, "y".repeat(10_000)] }))),
      {},
    );
    expect(message.length).toBeLessThan(maxErrorMessageLength);
    expect(message).toMatch(/^input\.key0\["y{64}\.\.\."\]: x+/);
    expect(message).toMatch(/; and \d+ more$/);
    const listed = message.split("; ");
    // Every problem listed names its own path, in order.
    listed.slice(0, -1).forEach((text, i) => expect(text.startsWith(`input.key${i}[`)).toBe(true));
  });

  it("names keys that are not identifiers as quoted strings", async () => {
    expect(await rejection(failing([{ message: "bad", path: ["first name", 0, "ok"] }]), {})).toBe('input["first name"][0].ok: bad');
  });

  it("says something even when the schema gives no problem or no message", async () => {
    expect(await rejection(failing([]), {})).toBe("input: invalid");
    expect(await rejection(failing([{ message: "" }]), {})).toBe("input: invalid");
  });
});
