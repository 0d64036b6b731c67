import { formatNumber } from "@/lib/format";
import { formatTick, linearScale } from "./scale";
import type { Marker, Series } from "./shape";

const W = 480;
const H = 220;
const M = { top: 12, right: 16, bottom: 36, left: 52 };
const COLOURS = ["var(--series-1)", "var(--series-2)", "var(--series-3)", "var(--series-4)"];

interface Props {
  title: string;
  series: Series[];
  xLabel: string;
  yLabel: string;
  markers?: Marker[];
  empty?: string;
}

/** A small SVG line chart: several series, optional vertical markers, a legend. */
export function LineChart({ title, series, xLabel, yLabel, markers = [], empty = "No data yet." }: Props) {
  const points = series.flatMap((s) => s.points);
  if (!points.length) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="muted">{empty}</p>
      </figure>
    );
  }
  const xs = [...points.map((p) => p.x), ...markers.map((m) => m.x)];
  const ys = points.map((p) => p.y);
  const x = linearScale([Math.min(...xs), Math.max(...xs)], [M.left, W - M.right]);
  const y = linearScale([Math.min(...ys), Math.max(...ys)], [H - M.bottom, M.top]);
  const summary = series.map((s) => `${s.name}: ${s.points.length} points, last ${formatNumber(s.points.at(-1)?.y)}`).join("; ");
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}. ${summary}`}>
        {y.ticks.map((t) => (
          <g key={`y${t}`}>
            <line className="grid" x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} />
            <text className="tick" x={M.left - 6} y={y(t) + 4} textAnchor="end">
              {formatTick(t, y.ticks)}
            </text>
          </g>
        ))}
        {x.ticks.map((t) => (
          <text key={`x${t}`} className="tick" x={x(t)} y={H - M.bottom + 16} textAnchor="middle">
            {formatTick(t, x.ticks)}
          </text>
        ))}
        <text className="axis-label" x={(M.left + W - M.right) / 2} y={H - 4} textAnchor="middle">
          {xLabel}
        </text>
        <text className="axis-label" transform={`translate(12 ${(H - M.bottom + M.top) / 2}) rotate(-90)`} textAnchor="middle">
          {yLabel}
        </text>
        {markers.map((m) => (
          <g key={`m${m.x}${m.label}`} className="marker">
            <line x1={x(m.x)} x2={x(m.x)} y1={M.top} y2={H - M.bottom} />
            <title>{m.label}</title>
          </g>
        ))}
        {series.map((s, i) => (
          <g key={s.name}>
            <polyline
              fill="none"
              stroke={COLOURS[i % COLOURS.length]}
              strokeWidth={2}
              strokeDasharray={s.dashed ? "5 4" : undefined}
              points={s.points.map((p) => `${x(p.x)},${y(p.y)}`).join(" ")}
            />
            {s.points.map((p) => (
              <circle key={`${p.x},${p.y}`} cx={x(p.x)} cy={y(p.y)} r={2.5} fill={COLOURS[i % COLOURS.length]} />
            ))}
          </g>
        ))}
      </svg>
      <ul className="legend">
        {series.map((s, i) => (
          <li key={s.name}>
            <span className="swatch" style={{ background: COLOURS[i % COLOURS.length] }} aria-hidden="true" />
            {s.name}
            {s.dashed ? " (dashed: abandoned by a rollback or estimated)" : ""}
          </li>
        ))}
        {markers.length > 0 && (
          <li>
            <span className="swatch marker-swatch" aria-hidden="true" />
            {markers.map((m) => m.label).join(", ")}
          </li>
        )}
      </ul>
    </figure>
  );
}
