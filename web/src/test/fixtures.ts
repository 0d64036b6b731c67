// Shared test data: events as a run writes them, and the published schemas read from disk.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { JsonObject } from "@/api/types";
import type { RunEvent } from "@/lib/events";

const ROOT = resolve(__dirname, "../../..");

export function readSchema(name: string): JsonObject {
  return JSON.parse(readFileSync(resolve(ROOT, "schemas", name), "utf-8")) as JsonObject;
}

export function readStyles(): string {
  return readFileSync(resolve(__dirname, "../app/styles.css"), "utf-8");
}

let seq = 0;
export function resetSeq(): void {
  seq = 0;
}

export function ev(type: string, data: RunEvent["data"] = {}, extra: Partial<RunEvent> = {}): RunEvent {
  const n = extra.seq ?? seq++;
  return {
    id: `e${n}`,
    type,
    time: new Date(Date.UTC(2026, 0, 1, 12, 0, n)).toISOString(),
    run_id: "run-1",
    seq: n,
    step: 0,
    segment: 0,
    data,
    ...extra,
  };
}
