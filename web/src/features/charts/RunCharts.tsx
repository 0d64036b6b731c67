import type { JsonObject } from "@/api/types";
import type { RunEvent } from "@/lib/events";
import { ContextCostChart } from "./ContextCostChart";
import { Heatmap } from "./Heatmap";
import { LineChart } from "./LineChart";
import {
  asObject,
  evalPerplexity,
  lossBySegment,
  measuredContextCostFromMetrics,
  memoryOverTime,
  needleGrid,
  needleGridFromFile,
  perplexityByLength,
} from "./shape";

interface Props {
  events: readonly RunEvent[];
  manifest: JsonObject | null;
  needle: Record<string, JsonObject>;
  needleImage: (model: string) => string | undefined;
}

/** Every chart of one run. */
export function RunCharts({ events, manifest, needle, needleImage }: Props) {
  const loss = lossBySegment(events);
  const metrics = asObject(manifest?.metrics);
  const plan = asObject(manifest?.plan);
  const models = ["base", "grown"].filter((m) => needle[m] || asObject(metrics?.[m])?.needle);
  return (
    <section className="charts" aria-label="Charts">
      <LineChart title="Training loss" series={loss.series} markers={loss.rollbacks} xLabel="step" yLabel="loss" />
      <LineChart title="Eval perplexity" series={evalPerplexity(events)} xLabel="step" yLabel="perplexity" empty="No evaluation yet." />
      <LineChart
        title="Perplexity by context length"
        series={perplexityByLength(metrics)}
        xLabel="context length (tokens)"
        yLabel="perplexity"
        empty="This run did not measure long-document perplexity (evaluate.long_ppl)."
      />
      <LineChart title="Memory over time" series={memoryOverTime(events)} xLabel="seconds since start" yLabel="GiB" />
      {models.length ? (
        models.map((m) => {
          const file = needle[m];
          const grid = file ? needleGridFromFile(file) : needleGrid(asObject(metrics?.[m])?.needle);
          return <Heatmap key={m} title={`Needle in a haystack (${m})`} grid={grid} imageUrl={needleImage(m)} />;
        })
      ) : (
        <Heatmap title="Needle in a haystack" grid={null} />
      )}
      <ContextCostChart plan={plan} measured={measuredContextCostFromMetrics(metrics)} />
    </section>
  );
}
