import { useMemo } from "react";
import { useApi } from "@/app/api-context";
import { AlertsPanel } from "@/features/alerts/AlertsPanel";
import { RunCharts } from "@/features/charts/RunCharts";
import { availableCheckpoints } from "@/features/cockpit/checkpoints";
import { CockpitStrip } from "@/features/cockpit/CockpitStrip";
import { ProgressLogger } from "@/features/progress/ProgressLogger";
import { useJob } from "@/features/progress/useJob";
import { useRunData } from "@/features/runs/useRunData";

const LIVE = ["running", "awaiting_approval", "queued"];

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 180_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One job: the cockpit strip on top, progress and alerts, then the charts. */
export function JobPage({ jobId }: { jobId: string }) {
  const api = useApi();
  const { job, events, snapshot, stream, error, refresh, follow } = useJob(jobId);
  const checkpoints = useMemo(() => availableCheckpoints(events), [events]);
  const run = useRunData(job?.run_id ?? null, false, `${job?.status}-${snapshot.last_seq > 0 ? Math.floor(snapshot.last_seq / 25) : 0}`);

  const decide = async (decision: "approve" | "deny", note: string) => {
    await api.act(jobId, decision, note);
    await refresh();
  };

  const rollback = async (to: string, resume: boolean) => {
    if (job && LIVE.includes(job.status)) {
      await api.act(jobId, "cancel");
      await until(refresh, (j) => j === null || !LIVE.includes(j.status));
    }
    await api.rollback(jobId, { to, resume });
    await refresh();
    follow();
  };

  return (
    <main className="page job" aria-labelledby="job-title">
      <h1 id="job-title">
        {job?.recipe_name ?? "Job"} <span className="muted small">{jobId}</span>
      </h1>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      <CockpitStrip job={job} snapshot={snapshot} checkpoints={checkpoints} onDecide={decide} onRollback={rollback} />
      <div className="two-columns">
        <ProgressLogger job={job} events={events} snapshot={snapshot} stream={stream} />
        <AlertsPanel runId={job?.run_id ?? null} events={events} language="en" />
      </div>
      <RunCharts
        events={events}
        manifest={run.manifest}
        needle={run.needle}
        needleImage={(m) => (job?.run_id && run.files.some((f) => f.path === `eval/needle_${m}.png`) ? api.fileUrl(job.run_id, `eval/needle_${m}.png`) : undefined)}
      />
    </main>
  );
}
