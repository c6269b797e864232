// Lints every Dockerfile of the repository with dockerfilelint (`npm run lint:docker`; CI runs
// it: no Docker engine runs here, so no image is built, but its instructions are checked).
//
// One correction: dockerfilelint 1.8 reads HEALTHCHECK options with /--\w+/, which stops at
// the dash of --start-period, so a valid `HEALTHCHECK --start-period=30s ...` is reported as
// invalid_format and healthcheck_options_missing_args. On a HEALTHCHECK line those two
// findings are checked again here with the rule done right (every option among Docker's and
// given a value), and dropped only when the options pass. Every other finding stands.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dockerfilelint = createRequire(import.meta.url)("dockerfilelint");

const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" })
  .split("\n")
  .filter((path) => /(^|\.)Dockerfile(\.|$)/.test(basename(path)));

const healthcheckOptions = new Set(["--interval", "--timeout", "--start-period", "--start-interval", "--retries"]);

/** The instruction that starts at this 0-based line, continuation lines joined. */
function instructionAt(lines, index) {
  let text = "";
  for (let i = index; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line.endsWith("\\")) return text + line;
    text += `${line.slice(0, -1)} `;
  }
  return text;
}

/** True when a HEALTHCHECK's options (before CMD) are all Docker's, each with a value. */
function validHealthcheck(instruction) {
  const words = instruction.split(/\s+/).slice(1);
  if (words[0]?.toUpperCase() === "NONE") return words.length === 1;
  const cmd = words.findIndex((word) => word.toUpperCase() === "CMD");
  if (cmd < 0) return false;
  return words.slice(0, cmd).every((word) => {
    const [name, value] = word.split("=", 2);
    return healthcheckOptions.has(name) && value !== undefined && value !== "";
  });
}

let problems = 0;
for (const path of files) {
  const content = readFileSync(join(root, path), "utf8");
  const lines = content.split(/\r?\n/);
  const items = dockerfilelint.run(root, content).filter((item) => {
    const instruction = instructionAt(lines, item.line - 1);
    const falsePositive =
      ["invalid_format", "healthcheck_options_missing_args"].includes(item.rule) &&
      /^HEALTHCHECK\s/i.test(instruction) &&
      validHealthcheck(instruction);
    return !falsePositive;
  });
  if (items.length === 0) {
    console.log(`${path}: no issues`);
    continue;
  }
  problems += items.length;
  for (const item of items) console.log(`${path}:${item.line}: ${item.rule}: ${item.title}. ${item.description}`);
}
if (files.length === 0) {
  console.log("no Dockerfile found");
  process.exit(1);
}
process.exit(problems === 0 ? 0 : 1);
