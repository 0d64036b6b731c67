// Turning events, manifests, eval files and plans into chart series (pure, unit-tested).
import type { Json, JsonObject } from "@/api/types";
import { finite, text, type RunEvent } from "@/lib/events";

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: Point[];
  /** Drawn dashed: an estimate, or a segment abandoned by a rollback. */
  dashed?: boolean;
}

export interface Marker {
  x: number;
  label: string;
}

/** Training loss by step, one series per segment; each rollback is a marker where it returned to. */
export function lossBySegment(events: readonly RunEvent[]): { series: Series[]; rollbacks: Marker[] } {
  const bySegment = new Map<number, Point[]>();
  const rollbacks: Marker[] = [];
  for (const event of events) {
    if (event.type === "StepLogged") {
      const loss = finite(event.data.loss);
      if (loss === null) continue;
      const points = bySegment.get(event.segment) ?? [];
      points.push({ x: event.step, y: loss });
      bySegment.set(event.segment, points);
    } else if (event.type === "RolledBack") {
      const checkpoint = text(event.data.checkpoint);
      rollbacks.push({ x: stepOf(checkpoint) ?? event.step, label: `rolled back to ${checkpoint.split("/").pop()}` });
    }
  }
  const last = Math.max(-1, ...bySegment.keys());
  const series = [...bySegment.entries()]
    .sort(([a], [b]) => a - b)
    .map(([segment, points]) => ({
      name: last === 0 ? "loss" : `loss (segment ${segment})`,
      points,
      dashed: segment < last,
    }));
  return { series, rollbacks };
}

export function stepOf(checkpoint: string): number | null {
  const match = checkpoint.match(/step-(\d+)/);
  return match?.[1] ? Number(match[1]) : null;
}

/** Held-out perplexity from each evaluation, by the step it happened at, one series per model. */
export function evalPerplexity(events: readonly RunEvent[]): Series[] {
  const byModel = new Map<string, Point[]>();
  for (const event of events) {
    if (event.type !== "EvalCompleted") continue;
    const metrics = asObject(event.data.metrics);
    const perplexity = finite(metrics?.eval_perplexity);
    if (perplexity === null) continue;
    const model = text(event.data.model) || "model";
    byModel.set(model, [...(byModel.get(model) ?? []), { x: event.step, y: perplexity }]);
  }
  return [...byModel.entries()].map(([name, points]) => ({ name: `eval perplexity (${name})`, points }));
}

/** Memory in use by seconds since the run's first event. */
export function memoryOverTime(events: readonly RunEvent[]): Series[] {
  const first = events[0] ? Date.parse(events[0].time) : 0;
  const points: Point[] = [];
  for (const event of events) {
    const memory = event.type === "StepLogged" ? finite(event.data.memory_gib) : null;
    if (memory !== null) points.push({ x: (Date.parse(event.time) - first) / 1000, y: memory });
  }
  return points.length ? [{ name: "memory (GiB)", points }] : [];
}

/** Truncated perplexity by context length (manifest metrics.<model>.long_ppl), base vs grown. */
export function perplexityByLength(metrics: JsonObject | null): Series[] {
  const series: Series[] = [];
  for (const model of ["base", "grown"]) {
    const table = asObject(asObject(asObject(metrics?.[model])?.long_ppl)?.truncated_perplexity);
    if (!table) continue;
    const points = Object.entries(table)
      .map(([length, value]) => ({ x: Number(length), y: finite(value) }))
      .filter((p): p is Point => p.y !== null && Number.isFinite(p.x))
      .sort((a, b) => a.x - b.x);
    if (points.length) series.push({ name: model, points });
  }
  return series;
}

export interface HeatmapGrid {
  lengths: number[];
  depths: string[];
  /** accuracy[length index][depth index], 0..1, null when not measured. */
  accuracy: (number | null)[][];
}

/** The needle grid from metrics.<model>.needle: {"256": {"0%": 1, "50%": 0}, ...}. */
export function needleGrid(table: Json | undefined): HeatmapGrid | null {
  const rows = asObject(table);
  if (!rows) return null;
  const lengths = Object.keys(rows).map(Number).filter(Number.isFinite).sort((a, b) => a - b);
  const depthSet = new Set<string>();
  for (const length of lengths) for (const depth of Object.keys(asObject(rows[String(length)]) ?? {})) depthSet.add(depth);
  const depths = [...depthSet].sort((a, b) => parseFloat(a) - parseFloat(b));
  if (!lengths.length || !depths.length) return null;
  const accuracy = lengths.map((length) => depths.map((depth) => finite(asObject(rows[String(length)])?.[depth])));
  return { lengths, depths, accuracy };
}

/** A needle_<model>.json file's cells in the same grid shape. */
export function needleGridFromFile(file: JsonObject): HeatmapGrid | null {
  const cells = Array.isArray(file.cells) ? file.cells : [];
  const table: Record<string, Record<string, number>> = {};
  for (const cell of cells) {
    const c = asObject(cell);
    const length = finite(c?.length);
    const depth = finite(c?.depth);
    const accuracy = finite(c?.accuracy);
    if (length === null || depth === null || accuracy === null) continue;
    (table[String(length)] ??= {})[`${Number((depth * 100).toPrecision(6))}%`] = accuracy;
  }
  return needleGrid(table);
}

export interface ContextCost {
  length: number;
  memory_gib: number;
  latency_s: number | null;
  measured: boolean;
}

/**
 * What a longer context costs, estimated from a plan: training memory grows with the tokens
 * per row (activations and the LM-head chunk), the rest stays. Points from native to 2x target.
 */
export function estimatedContextCost(plan: JsonObject | null): ContextCost[] {
  const memory = asObject(asObject(plan?.training)?.memory);
  const recommendation = asObject(asObject(plan?.training)?.recommendation);
  const context = asObject(plan?.context);
  const total = finite(memory?.total_gib);
  const seqLength = finite(recommendation?.seq_length);
  if (total === null || seqLength === null || seqLength <= 0) return [];
  const perToken = ((finite(memory?.activations_gib) ?? 0) + (finite(memory?.logits_gib) ?? 0)) / seqLength;
  const fixed = total - perToken * seqLength;
  const native = finite(context?.native_length) ?? seqLength;
  const target = finite(context?.target_length) ?? native;
  const lengths = new Set<number>();
  for (let length = Math.min(native, seqLength); length <= Math.max(target, seqLength) * 2; length *= 2) lengths.add(length);
  lengths.add(target);
  return [...lengths]
    .sort((a, b) => a - b)
    .map((length) => ({ length, memory_gib: fixed + perToken * length, latency_s: null, measured: false }));
}

/** Measured costs by length from eval files that carry them ({length, memory_gib?, latency_s?}). */
export function measuredContextCost(rows: readonly Json[]): ContextCost[] {
  const out: ContextCost[] = [];
  for (const row of rows) {
    const r = asObject(row);
    const length = finite(r?.length);
    const memory = finite(r?.memory_gib);
    if (length === null || memory === null) continue;
    out.push({ length, memory_gib: memory, latency_s: finite(r?.latency_s), measured: true });
  }
  return out.sort((a, b) => a.length - b.length);
}

/** The measured costs a run's manifest carries: metrics.grown.context_cost = {length: {...}}. */
export function measuredContextCostFromMetrics(metrics: JsonObject | null, model = "grown"): ContextCost[] {
  const table = asObject(asObject(metrics?.[model])?.context_cost);
  if (!table) return [];
  return measuredContextCost(Object.entries(table).map(([length, row]) => ({ ...(asObject(row) ?? {}), length: Number(length) })));
}

export function asObject(value: Json | undefined | null): JsonObject | null {
  return value !== null && value !== undefined && typeof value === "object" && !Array.isArray(value) ? value : null;
}
