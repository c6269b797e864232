// Two charts of the last hour, one bar per minute (QueueService/GetActivity): attempts ended,
// stacked by outcome, and the failure rate. Each has a text summary for screen readers.
import type { ActivityBucket } from "@spool/proto/es/spool/v1/queue_service_pb";
import { dateOf, time } from "../format.js";

const width = 600;
const height = 120;

export function ActivityCharts({ buckets }: { buckets: ActivityBucket[] }) {
  const n = Math.max(1, buckets.length);
  const totals = buckets.map((b) => Number(b.succeeded + b.failed + b.retried + b.cancelled));
  const top = Math.max(1, ...totals);
  const sum = (pick: (b: ActivityBucket) => bigint) => buckets.reduce((total, b) => total + Number(pick(b)), 0);
  const [succeeded, failed, retried, cancelled] = [sum((b) => b.succeeded), sum((b) => b.failed), sum((b) => b.retried), sum((b) => b.cancelled)];
  const ended = succeeded + failed + retried + cancelled;
  const failureRate = (b: { failed: number; retried: number; total: number }) => (b.total === 0 ? 0 : (b.failed + b.retried) / b.total);
  const barWidth = width / n;
  const last = buckets.at(-1);
  const perMinute = last ? totals.at(-1)! : 0;
  const rates = buckets.map((b, i) => failureRate({ failed: Number(b.failed), retried: Number(b.retried), total: totals[i]! }));
  const minutes = buckets.length;
  const first = dateOf(buckets[0]?.start);
  const summary = `${ended} attempts ended in the last ${minutes} minutes: ${succeeded} succeeded, ${failed} failed, ${retried} failed and retried, ${cancelled} cancelled`;
  return (
    <div class="charts">
      <figure>
        <figcaption>
          Attempts ended per minute <span class="figure">{perMinute}</span> in the current minute
        </figcaption>
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary} preserveAspectRatio="none">
          {buckets.map((b, i) => {
            let y = height;
            const parts: [string, number][] = [
              ["ok", Number(b.succeeded)],
              ["retried", Number(b.retried)],
              ["failed", Number(b.failed)],
              ["cancelled", Number(b.cancelled)],
            ];
            return parts.map(([kind, count]) => {
              const h = (count / top) * (height - 4);
              y -= h;
              return count > 0 ? <rect key={`${i}${kind}`} class={`bar-${kind}`} x={i * barWidth + 0.5} y={y} width={Math.max(1, barWidth - 1)} height={h} /> : null;
            });
          })}
        </svg>
        <p class="legend">
          <span class="key-ok">succeeded {succeeded}</span> <span class="key-retried">retried {retried}</span>{" "}
          <span class="key-failed">failed {failed}</span> <span class="key-cancelled">cancelled {cancelled}</span>
          {first && <span class="since"> since {time(buckets[0]?.start)}</span>}
        </p>
      </figure>
      <figure>
        <figcaption>
          Failure rate <span class="figure">{ended === 0 ? "0" : (((failed + retried) / ended) * 100).toFixed(1)}%</span> over the hour
        </figcaption>
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Failure rate per minute; ${failed + retried} of ${ended} attempts failed`} preserveAspectRatio="none">
          <line class="axis" x1="0" x2={width} y1={height - 1} y2={height - 1} />
          <polyline class="rate" fill="none" points={rates.map((r, i) => `${(i + 0.5) * barWidth},${height - 2 - r * (height - 6)}`).join(" ")} />
        </svg>
        <p class="legend">failed or retried attempts ÷ all ended, per minute (0–100%)</p>
      </figure>
    </div>
  );
}
