// Run events as they arrive over SSE (schemas/event.schema.json): the envelope, payload loose.
import type { Json } from "@/api/types";

export interface RunEvent {
  id: string;
  type: string;
  time: string;
  run_id: string;
  seq: number;
  step: number;
  segment: number;
  data: Record<string, Json | undefined>;
}

export function isRunEvent(value: unknown): value is RunEvent {
  if (typeof value !== "object" || value === null) return false;
  const event = value as Partial<RunEvent>;
  return (
    typeof event.type === "string" &&
    typeof event.seq === "number" &&
    typeof event.run_id === "string" &&
    typeof event.data === "object" &&
    event.data !== null
  );
}

/** A finite number or null: JSON carries NaN/Infinity as null, the breaker as "nan" strings. */
export function finite(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** Parse events.jsonl text (a run's full log, for history views); bad lines are skipped. */
export function parseEventLog(log: string): RunEvent[] {
  const events: RunEvent[] = [];
  for (const line of log.split("\n")) {
    if (!line.trim()) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (isRunEvent(parsed)) events.push(parsed);
    } catch {
      // a torn last line while the run writes; the next read has it whole
    }
  }
  return events;
}
