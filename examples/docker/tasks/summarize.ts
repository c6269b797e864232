// A task of the example project: sums the values it is given and reports how far it got.
// It imports a dependency of the project (zod, from /app/tasks/node_modules in the image), a
// helper beside it (lib/, which Spool does not scan for tasks: only the folder's top level),
// and @spool/sdk/task (the server's own copy in the image).
import { defineTask } from "@spool/sdk/task";
import { z } from "zod";
import { formatTotal } from "./lib/format.js";

export const summarize = defineTask({
  kind: "report.summarize",
  input: z.object({ title: z.string().min(1), values: z.array(z.number()).max(100_000) }),
  async run({ title, values }, ctx) {
    ctx.log.info(`summarizing ${values.length} values for ${title}`);
    let total = 0;
    for (const [i, value] of values.entries()) {
      total += value;
      if (i % 1000 === 999) ctx.progress((i + 1) / values.length);
    }
    return { title, count: values.length, total: formatTotal(total) };
  },
});
