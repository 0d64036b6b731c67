import { useEffect, useState } from "react";
import type { JobView, RunSummary } from "@/api/types";
import { useApi } from "@/app/api-context";
import { navigate } from "@/app/router";
import { RunCompare } from "@/features/runs/RunCompare";

/** Every run in the workspace (jobs and CLI runs), with a side-by-side comparison of two. */
export function RunsPage() {
  const api = useApi();
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [jobs, setJobs] = useState<JobView[]>([]);
  const [picked, setPicked] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    Promise.all([api.runs(), api.jobs()]).then(
      ([r, j]) => {
        setRuns(r);
        setJobs(j);
      },
      (e: Error) => setError(e.message),
    );
  }, [api]);

  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));
  const jobOf = (runId: string) => jobs.find((j) => j.run_id === runId);

  return (
    <main className="page" aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      {error && <p className="notice error">{error}</p>}
      {runs.length === 0 ? (
        <p className="muted">No run yet. Start one from the wizard.</p>
      ) : (
        <table className="runs-table">
          <caption className="visually-hidden">Runs, newest first; tick two to compare</caption>
          <thead>
            <tr>
              <th scope="col">Compare</th>
              <th scope="col">Run</th>
              <th scope="col">Recipe</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => {
              const job = jobOf(r.run_id);
              return (
                <tr key={r.run_id}>
                  <td>
                    <input type="checkbox" aria-label={`Compare ${r.run_id}`} checked={picked.includes(r.run_id)} onChange={() => toggle(r.run_id)} />
                  </td>
                  <td>
                    <a href={`/runs/${r.run_id}`} onClick={(e) => (e.preventDefault(), navigate(`/runs/${r.run_id}`))}>
                      {r.run_id}
                    </a>
                    {job && (
                      <>
                        {" · "}
                        <a href={`/jobs/${job.id}`} onClick={(e) => (e.preventDefault(), navigate(`/jobs/${job.id}`))}>
                          job
                        </a>
                      </>
                    )}
                  </td>
                  <td>{r.recipe_name ?? "—"}</td>
                  <td>{r.status.replace("_", " ")}</td>
                  <td>{r.created ? new Date(r.created).toLocaleString("en-GB") : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {picked.length === 2 && picked[0] && picked[1] ? <RunCompare left={picked[0]} right={picked[1]} /> : <p className="muted">Tick two runs to compare them side by side.</p>}
    </main>
  );
}
