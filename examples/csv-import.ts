// example.csv-import: imports the rows of a CSV file, reporting progress as it goes.
//
// Input: { path, into, batchSize? }. It streams the file through csv-parse (no whole file in
// memory), checks each row, writes the good ones to `into` (JSON lines, standing in for a
// database table) in batches, logs the bad ones with their line number, and reports
// progress by bytes read. Between batches it honours cancellation. Re-running it is safe:
// `into` is rewritten from the start, so an attempt that ran twice imports once.
import { createReadStream } from "node:fs";
import { stat, writeFile, appendFile } from "node:fs/promises";
import { parse } from "csv-parse";
import { defineTask } from "@spool/sdk/task";
import { z } from "zod";

const Input = z.object({
  path: z.string().min(1),
  into: z.string().min(1),
  batchSize: z.number().int().min(1).max(10_000).default(500),
});

const Row = z.object({
  email: z.email(),
  name: z.string().min(1),
  plan: z.enum(["free", "pro"]),
});

export const csvImport = defineTask({
  kind: "example.csv-import",
  input: Input,
  async run(input: z.infer<typeof Input>, ctx) {
    const { size } = await stat(input.path);
    const file = createReadStream(input.path);
    const rows = file.pipe(parse({ columns: true, skip_empty_lines: true, trim: true, info: true }));
    await writeFile(input.into, "");
    let imported = 0;
    let rejected = 0;
    let batch: string[] = [];
    const flush = async () => {
      await appendFile(input.into, batch.join(""));
      imported += batch.length;
      batch = [];
      ctx.signal.throwIfAborted();
      ctx.progress(file.bytesRead / size, `imported ${imported} rows, rejected ${rejected}`);
    };
    for await (const { record, info } of rows as AsyncIterable<{ record: unknown; info: { lines: number } }>) {
      const row = Row.safeParse(record);
      if (!row.success) {
        rejected++;
        ctx.log.warn(`line ${info.lines}: ${row.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
        continue;
      }
      batch.push(`${JSON.stringify(row.data)}\n`);
      if (batch.length >= input.batchSize) await flush();
    }
    await flush();
    ctx.progress(1, `imported ${imported} rows, rejected ${rejected}`);
    ctx.log.info(`done: ${imported} imported, ${rejected} rejected`);
    return { imported, rejected };
  },
});
