import { LineChart } from "@/features/charts/LineChart";
import { lossBySegment } from "@/features/charts/shape";
import { compareRows } from "./compare";
import { useRunData } from "./useRunData";

/** Two runs side by side: their key facts, and their training losses on one chart. */
export function RunCompare({ left, right }: { left: string; right: string }) {
  const a = useRunData(left, true);
  const b = useRunData(right, true);
  const rows = compareRows(a.manifest, b.manifest);
  const series = [
    ...lossBySegment(a.events).series.map((s) => ({ ...s, name: `${left}: ${s.name}` })),
    ...lossBySegment(b.events).series.map((s) => ({ ...s, name: `${right}: ${s.name}` })),
  ];
  return (
    <section aria-labelledby="compare-title" className="panel">
      <h2 id="compare-title">Compare</h2>
      <table className="compare">
        <thead>
          <tr>
            <th scope="col" />
            <th scope="col">{left}</th>
            <th scope="col">{right}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.label} className={r.differs ? "differs" : undefined}>
              <th scope="row">{r.label}</th>
              <td>{r.left}</td>
              <td>{r.right}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <LineChart title="Training loss, both runs" series={series} xLabel="step" yLabel="loss" />
    </section>
  );
}
