import { useEffect, useState } from "react";
import type { JobView } from "@/api/types";
import { useApi } from "@/app/api-context";
import { navigate } from "@/app/router";

/** Every job, newest first, each linking to its live page. */
export function JobsList() {
  const api = useApi();
  const [jobs, setJobs] = useState<JobView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.jobs().then(setJobs, (e: Error) => setError(e.message));
  }, [api]);
  return (
    <main className="page" aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      {error && <p className="notice error">{error}</p>}
      {jobs?.length === 0 && <p className="muted">No job yet. Start one from the wizard.</p>}
      <ul className="job-list">
        {jobs?.map((j) => (
          <li key={j.id}>
            <a href={`/jobs/${j.id}`} onClick={(e) => (e.preventDefault(), navigate(`/jobs/${j.id}`))}>
              {j.recipe_name} <span className="muted">{j.id}</span>
            </a>{" "}
            — {j.status.replace("_", " ")}
            {j.reason && <span className="muted"> ({j.reason})</span>}
          </li>
        ))}
      </ul>
    </main>
  );
}
