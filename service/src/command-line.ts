// spool-server's command line: one flag per environment variable of config.ts, derived from
// its schema (SPOOL_PORT is --port, DATABASE_URL is --database-url), so that the two can never
// disagree. A flag wins over its variable; the result goes through loadConfig like the
// environment alone would, so a flag's value is checked exactly as its variable's is.
//
// - A flag given twice is refused, except for a list (--tasks), whose values are joined.
// - An unknown flag, a flag without its value, or an argument that is not a flag is a usage
//   error (UsageError): the caller prints it with a pointer to --help and exits with 2.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { z } from "zod";
import { configSchema, configVariables, loadConfig, type Config, type ConfigVariable } from "./config.js";
import { serverVersion } from "./version.js";

export const commandName = "spool-server";

/** What the command line asks for. */
export type Command = { kind: "run"; config: Config } | { kind: "print"; text: string };

/** A command line that cannot be understood; print it and exit with status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The flag that sets this variable: SPOOL_ is dropped, the rest lower-cased and dashed. */
export function flagOf(variable: string): string {
  return `--${variable.replace(/^SPOOL_/, "").toLowerCase().replaceAll("_", "-")}`;
}

interface Setting {
  variable: ConfigVariable;
  flag: string;
  description: string;
  list: boolean;
  /** Shown in --help; undefined when the setting has none. */
  defaultValue: unknown;
  /** The values it accepts, when they are few. */
  choices: readonly unknown[] | undefined;
}

/** Every setting, read from the schema: its JSON Schema carries defaults, descriptions and meta. */
function settings(): Setting[] {
  const properties = (z.toJSONSchema(configSchema, { io: "input" }) as { properties: Record<string, Record<string, unknown>> })
    .properties;
  return configVariables.map((variable) => {
    const property = properties[variable] ?? {};
    return {
      variable,
      flag: flagOf(variable),
      description: String(property.description ?? ""),
      list: property.list === true,
      defaultValue: property.default,
      choices: Array.isArray(property.enum) ? property.enum : undefined,
    };
  });
}

/** Reads argv (without node and the script) over env: the configuration, or text to print. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const all = settings();
  const options: NonNullable<ParseArgsConfig["options"]> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean" },
  };
  for (const setting of all) options[setting.flag.slice(2)] = { type: "string", multiple: true };

  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true }));
  } catch (error) {
    throw new UsageError(usageMessage(error));
  }
  if (values.help) return { kind: "print", text: helpText(all) };
  if (values.version) return { kind: "print", text: `${serverVersion}\n` };
  if (positionals.length > 0) {
    const hint = positionals.length === 1 ? ` (did you mean --tasks ${positionals[0]}?)` : "";
    throw new UsageError(`unexpected argument ${positionals.join(" ")}${hint}`);
  }

  const overrides: Record<string, string> = {};
  const fromFlag = new Set<string>();
  for (const setting of all) {
    const given = values[setting.flag.slice(2)] as string[] | undefined;
    if (given === undefined) continue;
    if (given.length > 1 && !setting.list) throw new UsageError(`${setting.flag} is given ${given.length} times; give it once`);
    overrides[setting.variable] = given.join(",");
    fromFlag.add(setting.variable);
  }
  const nameOf = (variable: string) => (fromFlag.has(variable) ? `${flagOf(variable)} (${variable})` : variable);
  return { kind: "run", config: loadConfig({ ...env, ...overrides }, nameOf) };
}

/** node:util's parse errors, said the way the rest of this command says things. */
function usageMessage(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  // "Unknown option '--prot'", "Option '--port <value>' argument missing", "Option '-h, --help'
  // does not take an argument": the last flag named between the quotes.
  const option = /'([^']*)'/.exec(message)?.[1]?.match(/-[\w-]+/g)?.at(-1);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) return `unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) {
    return /argument missing/.test(message) ? `${option} needs a value` : `${option} takes no value`;
  }
  return message;
}

function helpText(all: readonly Setting[]): string {
  const lines = [
    `Usage: ${commandName} [options]`,
    "",
    "Starts one Spool replica: the gRPC API, and worker threads that run the tasks defined in",
    "the handler modules given with --tasks. Each option can be set by its environment variable",
    "instead; an option given here wins over its variable.",
    "",
    "Options:",
  ];
  const width = Math.max(...all.map((s) => s.flag.length + " <value>".length));
  for (const setting of all) {
    const details: string[] = [setting.variable];
    if (setting.defaultValue !== undefined && setting.defaultValue !== "") details.push(`default ${String(setting.defaultValue)}`);
    if (setting.choices) details.push(`one of ${setting.choices.join(", ")}`);
    if (setting.list) details.push("may be repeated");
    lines.push(`  ${`${setting.flag} <value>`.padEnd(width)}  ${details.join("; ")}`);
    lines.push(`  ${" ".repeat(width)}  ${setting.description}`);
  }
  lines.push(`  ${"-h, --help".padEnd(width)}  print this help`);
  lines.push(`  ${"--version".padEnd(width)}  print the version of @spool/server`);
  lines.push("", `Example: ${commandName} --tasks ./tasks --port 50051`, "");
  return lines.join("\n");
}
