// A job as the page shows it: its detail, every event (streamed, resumed after drops), the
// cockpit snapshot folded from them, and the stream's state.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "@/api/client";
import type { JobDetail } from "@/api/types";
import { useApi } from "@/app/api-context";
import { emptySnapshot, fold, type CockpitSnapshot } from "@/lib/cockpit";
import type { RunEvent } from "@/lib/events";
import { JobStream, type StreamState } from "@/lib/sse";

const LIVE: string[] = ["queued", "running", "awaiting_approval"];
const POLL_MS = 2000;
const REFRESH_ON = new Set(["RunStarted", "ApprovalRequested", "ApprovalDecided", "RunPaused", "RunFailed", "RunFinished", "RolledBack"]);

export interface JobView {
  job: JobDetail | null;
  events: RunEvent[];
  snapshot: CockpitSnapshot;
  stream: { state: StreamState; detail?: string | undefined };
  error: string | null;
  refresh: () => Promise<JobDetail | null>;
  /** Follow the stream again (after a resume or a rollback), from the last event seen. */
  follow: () => void;
}

export function useJob(jobId: string): JobView {
  const api = useApi();
  const [job, setJob] = useState<JobDetail | null>(null);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [snapshot, setSnapshot] = useState<CockpitSnapshot>(emptySnapshot(""));
  const [stream, setStream] = useState<{ state: StreamState; detail?: string | undefined }>({ state: "connecting" });
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const lastSeq = useRef(-1);

  const refresh = useCallback(async () => {
    try {
      const found = await api.job(jobId);
      setJob(found);
      setError(null);
      return found;
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      return null;
    }
  }, [api, jobId]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // The job's own status lags the run's events by a poll of the service: keep it fresh while
  // the job is not at rest, so a gate or an end is never missed.
  const live = job === null || LIVE.includes(job.status);
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, [live, refresh]);

  useEffect(() => {
    const diagnose = async () => {
      try {
        await api.job(jobId);
        return null; // the job is there: the connection dropped, try again
      } catch (e) {
        return e instanceof ApiError && e.status !== 0 ? e.message : null;
      }
    };
    const follower = new JobStream((after) => api.eventsUrl(jobId, after), {
      onEvent: (event) => {
        lastSeq.current = event.seq;
        setEvents((all) => [...all, event]);
        setSnapshot((s) => fold(s.run_id ? s : emptySnapshot(event.run_id), event));
        if (REFRESH_ON.has(event.type)) void refresh();
      },
      onEnd: () => void refresh(),
      onState: (state, detail) => setStream({ state, detail }),
    }, { diagnose });
    follower.lastSeq = lastSeq.current;
    follower.start();
    return () => follower.stop();
  }, [api, jobId, generation, refresh]);

  const follow = useCallback(() => setGeneration((g) => g + 1), []);
  return { job, events, snapshot, stream, error, refresh, follow };
}
