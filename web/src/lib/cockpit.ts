// The cockpit snapshot folded from events: a port of telemetry/cockpit.py's pure `fold`.
// Same rules: an event already folded (seq <= last_seq) or of another run changes nothing.
import { finite, text, type RunEvent } from "./events";

export type RunState = "starting" | "running" | "paused" | "awaiting_approval" | "completed" | "failed" | "rolled_back";
export type Breaker = "closed" | "open" | "half_open";
export type Priority = "warning" | "caution" | "advisory";

export interface ActiveAlert {
  alert_id: string;
  priority: Priority;
  title: string;
  message: string;
}

export interface PendingApproval {
  point: string;
  deadline: string;
}

export interface SinkState {
  errors: number;
  dropped: number;
  last_error: string;
}

/** Mirrors schemas/cockpit-snapshot.schema.json (a unit test keeps the two in step). */
export interface CockpitSnapshot {
  run_id: string;
  status: RunState;
  phase: string | null;
  step: number;
  total_steps: number | null;
  segment: number;
  loss: number | null;
  eval_perplexity: number | null;
  tokens_per_s: number | null;
  eta_s: number | null;
  memory_gib: number | null;
  breaker: Breaker;
  breaker_reason: string | null;
  alert: ActiveAlert | null;
  approval: PendingApproval | null;
  last_checkpoint: string | null;
  sinks: Record<string, SinkState>;
  last_seq: number;
  updated_at: string | null;
}

export function emptySnapshot(runId: string): CockpitSnapshot {
  return {
    run_id: runId,
    status: "starting",
    phase: null,
    step: 0,
    total_steps: null,
    segment: 0,
    loss: null,
    eval_perplexity: null,
    tokens_per_s: null,
    eta_s: null,
    memory_gib: null,
    breaker: "closed",
    breaker_reason: null,
    alert: null,
    approval: null,
    last_checkpoint: null,
    sinks: {},
    last_seq: -1,
    updated_at: null,
  };
}

type Update = Partial<CockpitSnapshot>;
type Folder = (snapshot: CockpitSnapshot, event: RunEvent) => Update;

const PRIORITIES: readonly string[] = ["warning", "caution", "advisory"];
const BREAKERS: readonly string[] = ["closed", "open", "half_open"];

const FOLDERS: Record<string, Folder> = {
  RunStarted: () => ({ status: "running", approval: null }),
  PhaseStarted: (_, e) => ({ phase: text(e.data.phase) || null }),
  ProgressUpdated: (_, e) => {
    const total = finite(e.data.total);
    return e.data.task === "train" && total !== null ? { total_steps: Math.trunc(total) } : {};
  },
  StepLogged: (_, e) => ({
    loss: finite(e.data.loss),
    tokens_per_s: finite(e.data.tokens_per_s),
    eta_s: finite(e.data.eta_s),
    memory_gib: finite(e.data.memory_gib),
  }),
  EvalCompleted: (_, e) => {
    const metrics = e.data.metrics;
    const perplexity = metrics && typeof metrics === "object" && !Array.isArray(metrics) ? finite(metrics.eval_perplexity) : null;
    return perplexity !== null ? { eval_perplexity: perplexity } : {};
  },
  CheckpointSaved: (_, e) => ({ last_checkpoint: text(e.data.path) }),
  ApprovalRequested: (_, e) => {
    const deadline = new Date(Date.parse(e.time) + (finite(e.data.timeout_s) ?? 0) * 1000);
    return { status: "awaiting_approval", approval: { point: text(e.data.point), deadline: deadline.toISOString() } };
  },
  ApprovalDecided: () => ({ status: "running", approval: null }),
  RolledBack: (_, e) => ({ status: "rolled_back", last_checkpoint: text(e.data.checkpoint) }),
  // A terminal event ends the alert too: the alerts engine emits nothing after it.
  RunPaused: (_, e) => ({ status: "paused", last_checkpoint: text(e.data.checkpoint), alert: null }),
  RunFinished: () => ({ status: "completed", approval: null, eta_s: 0, alert: null }),
  RunFailed: () => ({ status: "failed", approval: null, alert: null }),
  BreakerWarned: (s, e) => ({ breaker: BREAKERS.includes(text(e.data.state)) ? (text(e.data.state) as Breaker) : s.breaker }),
  BreakerTripped: (_, e) => ({ breaker: "open", breaker_reason: text(e.data.reason) }),
  BreakerProbationStarted: () => ({ breaker: "half_open" }),
  BreakerRecovered: () => ({ breaker: "closed" }),
  AlertRaised: (_, e) => ({
    alert: {
      alert_id: text(e.data.alert_id),
      priority: (PRIORITIES.includes(text(e.data.priority)) ? text(e.data.priority) : "advisory") as Priority,
      title: text(e.data.title),
      message: text(e.data.message),
    },
  }),
  AlertCleared: (s, e) => (s.alert !== null && s.alert.alert_id === e.data.alert_id ? { alert: null } : {}),
  SinkDegraded: (s, e) => ({
    sinks: {
      ...s.sinks,
      [text(e.data.sink)]: {
        errors: finite(e.data.errors) ?? 0,
        dropped: finite(e.data.dropped) ?? 0,
        last_error: text(e.data.last_error),
      },
    },
  }),
};

/** The snapshot after `event`; the same object when the event changes nothing. */
export function fold(snapshot: CockpitSnapshot, event: RunEvent): CockpitSnapshot {
  if (event.run_id !== snapshot.run_id || event.seq <= snapshot.last_seq) return snapshot;
  const update = FOLDERS[event.type]?.(snapshot, event) ?? {};
  return {
    ...snapshot,
    ...update,
    step: event.step,
    segment: event.segment,
    last_seq: event.seq,
    updated_at: event.time,
  };
}

export function foldAll(runId: string, events: readonly RunEvent[]): CockpitSnapshot {
  return events.reduce(fold, emptySnapshot(runId));
}

/** A checkpoint path ('.../checkpoints/step-000040') as the rollback endpoint names it. */
export function checkpointName(path: string | null): string | null {
  const match = path?.match(/step-\d+/g);
  return match ? (match[match.length - 1] ?? null) : null;
}
