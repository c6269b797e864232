// The report's chart, as SVG: throughput per subject and mode (scenario 1), and the pickup
// latency from before the create as each subject's p50, p90 and p99 (scenario 2). Written
// next to the figures (bench/results/<date>.svg) by every run; bench/README.md shows the one
// of the last full run.

interface Series {
  name: string;
  batched?: number;
  single?: number;
  latency?: { p50: number; p90: number; p99: number };
}

type Figures = Record<string, any>;

const subjects: [key: string, name: string][] = [
  ["spool", "Spool"],
  ["graphile_default", "graphile-worker"],
  ["graphile_batched", "graphile-worker (batched)"],
  ["pgboss", "pg-boss"],
  ["bullmq", "BullMQ (Redis, no disk)"],
];

const colors = { batched: "#0b5cad", single: "#7cb4e8", p50: "#1a7f37", p90: "#c27c00", p99: "#b42318" };

function seriesOf(results: Figures): Series[] {
  return subjects
    .filter(([key]) => results[key])
    .map(([key, name]) => {
      const r = results[key] as Figures;
      const latency = r.pickup?.beforeCreate;
      return {
        name,
        batched: r.throughput?.batched?.perSec,
        single: r.throughput?.single?.perSec,
        ...(latency && { latency: { p50: latency.p50, p90: latency.p90, p99: latency.p99 } }),
      };
    });
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** Horizontal bars, one group per subject: `bars` picks the values and their colours. */
function panel(title: string, unit: string, series: Series[], bars: [label: string, color: string, pick: (s: Series) => number | undefined][], top: number): { svg: string; height: number } {
  const rowHeight = 14;
  const groupHeight = bars.length * rowHeight + 10;
  const left = 190;
  const width = 560;
  const max = Math.max(1, ...series.flatMap((s) => bars.map(([, , pick]) => pick(s) ?? 0)));
  let svg = `<text x="0" y="${top + 14}" font-weight="600">${escape(title)}</text>`;
  svg += bars
    .map(([label, color], i) => `<rect x="${left + i * 110}" y="${top + 22}" width="10" height="10" fill="${color}"/><text x="${left + 14 + i * 110}" y="${top + 31}" font-size="11">${escape(label)}</text>`)
    .join("");
  series.forEach((s, g) => {
    const y0 = top + 44 + g * groupHeight;
    svg += `<text x="0" y="${y0 + (bars.length * rowHeight) / 2 + 4}" font-size="12">${escape(s.name)}</text>`;
    bars.forEach(([, color, pick], i) => {
      const value = pick(s);
      if (value === undefined) return;
      const w = Math.max(1, (value / max) * width);
      const y = y0 + i * rowHeight;
      svg += `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${rowHeight - 3}" fill="${color}"/>`;
      svg += `<text x="${(left + w + 4).toFixed(1)}" y="${y + rowHeight - 4}" font-size="11">${value.toLocaleString("en-US")} ${unit}</text>`;
    });
  });
  return { svg, height: 44 + series.length * groupHeight + 16 };
}

export function chartSvg(results: Figures): string {
  const series = seriesOf(results);
  const throughput = panel("Throughput, tasks/s (higher is better)", "/s", series, [
    ["batch creates", colors.batched, (s) => s.batched],
    ["single creates", colors.single, (s) => s.single],
  ], 0);
  const latency = panel("Pickup from before the create, ms (lower is better)", "ms", series, [
    ["p50", colors.p50, (s) => s.latency?.p50],
    ["p90", colors.p90, (s) => s.latency?.p90],
    ["p99", colors.p99, (s) => s.latency?.p99],
  ], throughput.height + 10);
  const machine = results.machine as Figures | undefined;
  const footY = throughput.height + latency.height + 24;
  const foot = machine
    ? `${machine.cores} cores, ${machine.postgres}, fsync ${machine.fsync}; BullMQ on Redis without persistence; ${String(results.date ?? "").slice(0, 10)}`
    : "";
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="860" height="${footY + 10}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<g transform="translate(10,10)">${throughput.svg}${latency.svg}<text x="0" y="${footY - 4}" font-size="11" fill="#4f5963">${escape(foot)}</text></g>`,
    `</svg>`,
    "",
  ].join("\n");
}
