import { useEffect, useRef } from "react";
import type { JobDetail } from "@/api/types";
import type { CockpitSnapshot } from "@/lib/cockpit";
import type { RunEvent } from "@/lib/events";
import { formatDuration, formatNumber } from "@/lib/format";
import type { StreamState } from "@/lib/sse";
import { describeEvent, explainFailure } from "./describe";

interface Props {
  job: JobDetail | null;
  events: RunEvent[];
  snapshot: CockpitSnapshot;
  stream: { state: StreamState; detail?: string | undefined };
}

const STREAM_WORDS: Record<StreamState, string> = {
  connecting: "connecting to the live events…",
  open: "live",
  reconnecting: "connection lost — reconnecting, no event will be missed",
  ended: "the job has ended",
  stopped: "not following",
};

/** Live phase, step, loss, tokens/s and ETA, the log, and why a run failed. */
export function ProgressLogger({ job, events, snapshot, stream }: Props) {
  const lines = events.map(describeEvent).filter((l) => l !== null);
  const failure = explainFailure(job);
  const total = snapshot.total_steps;
  return (
    <section className="panel progress" aria-labelledby="progress-title">
      <h2 id="progress-title">Progress</h2>
      <p className={`stream ${stream.state}`} role="status">
        Events: {STREAM_WORDS[stream.state]}
        {stream.detail ? ` (${stream.detail})` : ""}
      </p>
      {failure && (
        <div className="notice error" role="alert" data-testid="failure">
          <p>{failure}</p>
          {job?.stderr_tail && (
            <details>
              <summary>Technical details</summary>
              <pre>{job.stderr_tail}</pre>
            </details>
          )}
        </div>
      )}
      <dl className="gauges">
        <Gauge label="Phase" value={snapshot.phase ?? "—"} />
        <Gauge label="Step" value={total ? `${snapshot.step} / ${total}` : String(snapshot.step)} testId="gauge-step" />
        <Gauge label="Loss" value={formatNumber(snapshot.loss, 4)} />
        <Gauge label="Tokens/s" value={formatNumber(snapshot.tokens_per_s)} />
        <Gauge label="ETA" value={formatDuration(snapshot.eta_s)} />
      </dl>
      {total ? <progress max={total} value={Math.min(snapshot.step, total)} aria-label="Training steps done" /> : null}
      <Log lines={lines} />
    </section>
  );
}

function Gauge({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

function Log({ lines }: { lines: NonNullable<ReturnType<typeof describeEvent>>[] }) {
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    // Follow the newest line inside the log only; the page itself never jumps.
    if (list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [lines.length]);
  return (
    <ol className="log" aria-label="Run log" tabIndex={0} ref={list}>
      {lines.map((l) => (
        <li key={l.seq} className={l.level}>
          <time dateTime={l.time}>{new Date(l.time).toLocaleTimeString("en-GB")}</time> {l.text}
        </li>
      ))}
    </ol>
  );
}
