import type { JsonObject } from "@/api/types";
import { formatGib } from "@/lib/format";
import { LineChart } from "./LineChart";
import { estimatedContextCost, measuredContextCost, type ContextCost } from "./shape";

/** Memory (and latency where measured) per context length: estimated from the plan, measured after. */
export function ContextCostChart({ plan, measured = [] }: { plan: JsonObject | null; measured?: ContextCost[] }) {
  const estimate = estimatedContextCost(plan);
  const series = [
    { name: "training memory, estimated (GiB)", points: estimate.map((c) => ({ x: c.length, y: c.memory_gib })), dashed: true },
    { name: "memory, measured (GiB)", points: measured.map((c) => ({ x: c.length, y: c.memory_gib })) },
  ].filter((s) => s.points.length);
  const latency = measured.filter((c) => c.latency_s !== null);
  return (
    <div className="chart-group">
      <LineChart
        title="What a longer context costs"
        series={series}
        xLabel="context length (tokens)"
        yLabel="GiB"
        empty="The plan gives no memory estimate yet."
      />
      {latency.length > 0 ? (
        <LineChart
          title="Latency per context length (measured)"
          series={[{ name: "seconds per forward pass", points: latency.map((c) => ({ x: c.length, y: c.latency_s ?? 0 })) }]}
          xLabel="context length (tokens)"
          yLabel="s"
        />
      ) : (
        <p className="muted small">Latency by length appears when the run's evaluation measures it.</p>
      )}
      {estimate.length > 0 && (
        <table className="small-table">
          <caption className="visually-hidden">Estimated training memory by context length</caption>
          <thead>
            <tr>
              <th scope="col">tokens</th>
              <th scope="col">memory (estimate)</th>
            </tr>
          </thead>
          <tbody>
            {estimate.map((c) => (
              <tr key={c.length}>
                <td>{c.length.toLocaleString("en")}</td>
                <td>{formatGib(c.memory_gib)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export { measuredContextCost };
