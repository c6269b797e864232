// example.render: a CPU-heavy job, cancellable: renders the Mandelbrot set to a PNG file.
//
// Input: { path, width, height, iterations?, cooperative? }. The pixels are pure
// computation on the worker thread; the PNG is encoded with node:zlib (deflate, crc32). Between rows it
// reports progress and checks ctx.signal, so a cancel stops it within one row. With
// `cooperative: false` it never looks at the signal, like a handler stuck in a library call:
// then Spool terminates its thread after the grace period, and it is cancelled all the same.
import { writeFile } from "node:fs/promises";
import { crc32, deflateSync } from "node:zlib";
import { defineTask } from "@spool/sdk/task";
import { z } from "zod";

const Input = z.object({
  path: z.string().min(1),
  width: z.number().int().min(1).max(20_000),
  height: z.number().int().min(1).max(20_000),
  iterations: z.number().int().min(1).max(100_000).default(500),
  cooperative: z.boolean().default(true),
});

export const render = defineTask({
  kind: "example.render",
  input: Input,
  async run(input: z.infer<typeof Input>, ctx) {
    const { width, height, iterations } = input;
    // One filter byte (0) at the start of each row, then one grey byte per pixel.
    const raw = Buffer.alloc((width + 1) * height);
    for (let y = 0; y < height; y++) {
      if (input.cooperative) ctx.signal.throwIfAborted();
      const ci = (y / height) * 2.4 - 1.2;
      for (let x = 0; x < width; x++) {
        const cr = (x / width) * 3.5 - 2.5;
        let zr = 0;
        let zi = 0;
        let n = 0;
        while (n < iterations && zr * zr + zi * zi <= 4) {
          const t = zr * zr - zi * zi + cr;
          zi = 2 * zr * zi + ci;
          zr = t;
          n++;
        }
        raw[y * (width + 1) + 1 + x] = n === iterations ? 0 : 255 - Math.floor((255 * n) / iterations);
      }
      if (input.cooperative && y % 16 === 15) {
        ctx.progress((y + 1) / height, `rendered ${y + 1} of ${height} rows`);
        await new Promise((resolve) => setImmediate(resolve)); // lets the abort message in
      }
    }
    const png = encodePng(width, height, raw);
    await writeFile(input.path, png);
    ctx.progress(1, `wrote ${png.length} bytes`);
    return { path: input.path, bytes: png.length };
  },
});

/** An 8-bit greyscale PNG from filtered scanlines. */
function encodePng(width: number, height: number, raw: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, greyscale, deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
