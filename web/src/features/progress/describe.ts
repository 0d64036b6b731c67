// Events as log lines in plain words (null: not worth a line of its own).
import { finite, text, type RunEvent } from "@/lib/events";
import { formatDuration, formatGib, formatNumber } from "@/lib/format";

export type LogLevel = "info" | "warn" | "error";

export interface LogLine {
  seq: number;
  time: string;
  level: LogLevel;
  text: string;
}

type Describer = (e: RunEvent) => string | [LogLevel, string] | null;

const DESCRIBERS: Record<string, Describer> = {
  RunStarted: (e) => `run ${e.run_id} started`,
  PhaseStarted: (e) => `${text(e.data.phase)}: ${text(e.data.description) || "started"}`,
  PhaseFinished: (e) => `${text(e.data.phase)} done in ${formatDuration(finite(e.data.duration_s))}`,
  StepLogged: (e) =>
    `step ${e.step}: loss ${formatNumber(finite(e.data.loss), 4)}, ${formatNumber(finite(e.data.tokens_per_s))} tokens/s, ${formatGib(finite(e.data.memory_gib))}`,
  EvalCompleted: (e) => {
    const metrics = e.data.metrics as Record<string, unknown> | null;
    const ppl = finite(metrics?.eval_perplexity);
    return `evaluated the ${text(e.data.model)} model${ppl !== null ? `: perplexity ${formatNumber(ppl)}` : ""}`;
  },
  CheckpointSaved: (e) => `checkpoint saved: ${text(e.data.path).split("/").pop()}`,
  ContractChecked: (e) => (e.data.passed ? `check passed: ${text(e.data.name)}` : ["warn", `check failed: ${text(e.data.name)} — ${text(e.data.detail)}`]),
  ArtifactExported: (e) => `exported ${text(e.data.kind)}: ${text(e.data.path).split("/").slice(-2).join("/")}`,
  ApprovalRequested: (e) => ["warn", `waiting for your approval before ${text(e.data.point)} (times out in ${formatDuration(finite(e.data.timeout_s))})`],
  ApprovalDecided: (e) => `${text(e.data.decision)} at ${text(e.data.point)} by ${text(e.data.by)}${e.data.note ? `: ${text(e.data.note)}` : ""}`,
  RolledBack: (e) => ["warn", `rolled back to ${text(e.data.checkpoint).split("/").pop()}; later work set aside`],
  RunPaused: (e) => ["warn", `paused at step ${formatNumber(finite(e.data.step))}`],
  RunFinished: (e) => `finished (${text(e.data.status)}) in ${formatDuration(finite(e.data.duration_s))}`,
  RunFailed: (e) => ["error", `failed in ${text(e.data.phase)}: ${text(e.data.error)}`],
  BreakerWarned: (e) => ["warn", `safety warning (${text(e.data.trigger)}): ${text(e.data.reason)}`],
  BreakerTripped: (e) => ["error", `safety breaker stopped training (${text(e.data.action)}): ${text(e.data.reason)}`],
  BreakerProbationStarted: (e) => ["warn", `training resumed on probation: ${text(e.data.reason)}`],
  BreakerRecovered: (e) => `safety breaker closed again: ${text(e.data.reason)}`,
  AlertRaised: (e) => [e.data.priority === "warning" ? "error" : "warn", `alert: ${text(e.data.title)}`],
  SinkDegraded: (e) => ["warn", `telemetry output ${text(e.data.sink)} lost events: ${text(e.data.last_error)}`],
};

export function describeEvent(event: RunEvent): LogLine | null {
  const described = DESCRIBERS[event.type]?.(event) ?? null;
  if (described === null) return null;
  const [level, line] = typeof described === "string" ? (["info", described] as const) : described;
  return { seq: event.seq, time: event.time, level, text: line };
}

/** Why a job ended badly, in plain words, from what the service knows. */
export function explainFailure(job: { status: string; reason?: string | null; error?: string | null } | null): string | null {
  if (!job) return null;
  if (job.status === "failed") {
    const [phase, ...rest] = (job.reason ?? job.error ?? "").split(":");
    return rest.length ? `The run failed while ${phaseWords(phase?.trim() ?? "")}:${rest.join(":")}` : `The run failed: ${job.reason ?? job.error ?? "no reason was recorded"}`;
  }
  if (job.status === "lost") return `The run's process ended while no service watched it. ${job.reason ?? ""}`;
  if (job.status === "aborted") return `The run was stopped: ${job.reason ?? "on request"}`;
  return null;
}

const PHASES: Record<string, string> = {
  plan: "planning",
  load: "loading the model",
  grow: "adding the adapter",
  context: "extending the context",
  data: "reading the training data",
  train: "training",
  evaluate: "evaluating",
  contracts: "checking the result",
  gate: "waiting for approval",
  export: "exporting",
};

function phaseWords(phase: string): string {
  return PHASES[phase] ?? `in ${phase || "an unknown phase"}`;
}
