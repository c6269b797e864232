// A kind's backoff (defineTask({ backoff })): its fields over the defaults, checked when the
// handler modules load, whichever copy of the SDK made the definition.
import { defaultBackoff } from "@spool/proto";
import { defineTask, type TaskDefinition } from "@spool/sdk/task";
import { describe, expect, it } from "vitest";
import { KindBackoffs } from "./kind-backoffs.js";

const run = () => null;
const kinds = (...definitions: TaskDefinition[]) => KindBackoffs.of(new Map(definitions.map((d) => [d.kind, d])));
/** A definition as another copy (or version) of the SDK may make it: not checked by this one's defineTask. */
const foreign = (kind: string, backoff: unknown) => ({ kind, run, backoff, spoolTask: 1 }) as unknown as TaskDefinition;

describe("KindBackoffs", () => {
  it("resolves each kind's fields over the defaults; a kind without one, and an unknown kind, take the defaults", () => {
    const backoffs = kinds(
      defineTask({ kind: "a.slow", backoff: { baseMs: 30_000, maxMs: 7_200_000 }, run }),
      defineTask({ kind: "a.steady", backoff: { factor: 1, jitter: 0 }, run }),
      defineTask({ kind: "a.plain", run }),
    );
    expect(backoffs.of("a.slow")).toEqual({ ...defaultBackoff, baseMs: 30_000, maxMs: 7_200_000 });
    expect(backoffs.of("a.steady")).toEqual({ ...defaultBackoff, factor: 1, jitter: 0 });
    expect(backoffs.of("a.plain")).toEqual(defaultBackoff);
    expect(backoffs.of("no.such")).toEqual(defaultBackoff);
  });

  it("keeps the backoff defineTask was given, whatever the caller does to its object afterwards", () => {
    const given = { baseMs: 2000 };
    const definition = defineTask({ kind: "a.copy", backoff: given, run });
    given.baseMs = 3;
    expect(kinds(definition).of("a.copy").baseMs).toBe(2000);
    expect(Object.isFrozen(definition.backoff)).toBe(true);
  });

  it("refuses an unusable backoff, naming the kind and the field", () => {
    const cases: [unknown, RegExp][] = [
      [{ factor: 20 }, /factor: 20 is out of range 1\.\.10/],
      [{ factor: 0.5 }, /factor: 0.5 is out of range 1\.\.10/],
      [{ jitter: 1.5 }, /jitter: 1.5 is out of range 0\.\.1/],
      [{ baseMs: -1 }, /baseMs: -1 is out of range 0\.\.86400000/],
      [{ baseMs: 1.5 }, /baseMs: 1.5 is not a whole number of ms/],
      [{ maxMs: 8 * 24 * 3600_000 }, /maxMs: 691200000 is out of range 0\.\.604800000/],
      [{ baseMs: Number.NaN }, /baseMs: NaN is not a whole number of ms/],
      [{ jitter: "0.1" }, /jitter: "0.1" is not a number/],
      // 2 h over the default max of 1 h: the message says where the max came from.
      [{ baseMs: 7_200_000 }, /maxMs: 3600000 is less than baseMs \(7200000\) \(the default: set maxMs too\)/],
      [{ baseMs: 5000, maxMs: 4000 }, /maxMs: 4000 is less than baseMs \(5000\)$/],
      [{ base: 1000 }, /base is not a backoff field \(baseMs, factor, maxMs, jitter\)/],
      ["fast", /must be an object/],
      [null, /must be an object/],
    ];
    for (const [backoff, problem] of cases) {
      expect(() => kinds(foreign("x.bad", backoff)), JSON.stringify(backoff)).toThrow(/^kind "x\.bad": its backoff \(defineTask\) is unusable: /);
      expect(() => kinds(foreign("x.bad", backoff)), JSON.stringify(backoff)).toThrow(problem);
    }
  });
});
