import type { JobDetail } from "@/api/types";
import type { CockpitSnapshot } from "@/lib/cockpit";
import { formatGib, formatNumber } from "@/lib/format";
import { ApprovalControl } from "./ApprovalControl";
import { RollbackControl } from "./RollbackControl";

const BREAKER_WORDS = { closed: "closed (all well)", open: "open (training stopped)", half_open: "half open (on probation)" } as const;
const PRIORITY_MARK = { warning: "▲", caution: "■", advisory: "●" } as const;

interface Props {
  job: JobDetail | null;
  snapshot: CockpitSnapshot;
  checkpoints: string[];
  onDecide: (decision: "approve" | "deny", note: string) => Promise<void>;
  onRollback: (to: string, resume: boolean) => Promise<void>;
}

const LIVE = ["running", "awaiting_approval"];
const AT_REST = ["paused", "failed", "lost", "rolled_back", "completed"];

export function rollbackUnavailable(job: JobDetail | null): string | null {
  if (!job) return "loading the job…";
  if (!job.run_id) return "the run has not started yet";
  if (LIVE.includes(job.status) || AT_REST.includes(job.status)) return null;
  return `a job that is ${job.status.replace("_", " ")} cannot be rolled back`;
}

/** The run at a glance: status, breaker, the one active alert, a pending approval, rollback. */
export function CockpitStrip({ job, snapshot, checkpoints, onDecide, onRollback }: Props) {
  const status = job?.status ?? snapshot.status;
  const approval = snapshot.approval ?? (job?.awaiting ? { point: job.awaiting, deadline: new Date(Date.now() + 3600e3).toISOString() } : null);
  return (
    <section className="cockpit" aria-label="Cockpit">
      <div className="cockpit-facts">
        <p>
          <span className="label">Job</span> <strong data-testid="job-status">{status.replace("_", " ")}</strong>
        </p>
        <p className={`breaker ${snapshot.breaker}`}>
          <span className="label">Breaker</span> {BREAKER_WORDS[snapshot.breaker]}
          {snapshot.breaker_reason && <span className="muted"> — {snapshot.breaker_reason}</span>}
        </p>
        <p>
          <span className="label">Eval perplexity</span> {formatNumber(snapshot.eval_perplexity)}
        </p>
        <p>
          <span className="label">Memory</span> {formatGib(snapshot.memory_gib)}
        </p>
        <p>
          <span className="label">Last checkpoint</span> {snapshot.last_checkpoint?.split("/").pop() ?? "—"}
        </p>
        {Object.keys(snapshot.sinks).length > 0 && (
          <p className="notice caution">Telemetry outputs losing events: {Object.keys(snapshot.sinks).join(", ")}</p>
        )}
      </div>
      {snapshot.alert ? (
        <div className={`alert ${snapshot.alert.priority}`} role="alert" data-testid="active-alert">
          <span aria-hidden="true">{PRIORITY_MARK[snapshot.alert.priority]}</span> <strong>{snapshot.alert.title}</strong>
          {snapshot.alert.message && <span> — {snapshot.alert.message}</span>}
          <span className="visually-hidden"> ({snapshot.alert.priority})</span>
        </div>
      ) : (
        <p className="alert dark">No active alert.</p>
      )}
      {approval && (status === "awaiting_approval" || snapshot.status === "awaiting_approval") && <ApprovalControl approval={approval} onDecide={onDecide} />}
      <RollbackControl checkpoints={checkpoints} unavailable={rollbackUnavailable(job)} live={LIVE.includes(status)} onRollback={onRollback} />
    </section>
  );
}
