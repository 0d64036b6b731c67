import { useApi } from "@/app/api-context";
import { RunCharts } from "@/features/charts/RunCharts";
import { useRunData } from "@/features/runs/useRunData";

/** One finished (or any) run, read from its folder: charts from events.jsonl and the manifest. */
export function RunPage({ runId }: { runId: string }) {
  const api = useApi();
  const run = useRunData(runId, true);
  return (
    <main className="page" aria-labelledby="run-title">
      <h1 id="run-title">{runId}</h1>
      {run.error && <p className="notice error">{run.error}</p>}
      <p>
        Status: <strong>{String(run.manifest?.status ?? "—")}</strong>
        {run.files.some((f) => f.path === "README.md") && (
          <>
            {" · "}
            <a href={api.fileUrl(runId, "README.md")}>model card</a>
          </>
        )}
      </p>
      <RunCharts
        events={run.events}
        manifest={run.manifest}
        needle={run.needle}
        needleImage={(m) => (run.files.some((f) => f.path === `eval/needle_${m}.png`) ? api.fileUrl(runId, `eval/needle_${m}.png`) : undefined)}
      />
    </main>
  );
}
