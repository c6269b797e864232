// Flag values as the `spool` commands read them. A bad value throws commander's
// InvalidArgumentError (commander prints it with the flag's name), or a SpoolError naming
// the flag when it is found only after parsing.
import { InvalidArgumentError } from "commander";
import { SpoolError } from "../errors.js";

/** For a repeatable flag: every value given, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`not JSON: ${(error as Error).message}`);
  }
}

export function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError("not an integer");
  return Number(value);
}

export function parseLimit(value: string): number {
  const limit = parseInteger(value);
  if (limit < 1) throw new InvalidArgumentError("must be at least 1");
  return limit;
}

/** `--label key=value` flags as labels; undefined when none was given. */
export function parseLabels(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new SpoolError("invalid_argument", `--label: "${pair}" is not key=value`, 3);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}
