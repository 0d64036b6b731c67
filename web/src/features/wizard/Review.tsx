import { useMemo, useState } from "react";
import { newIdempotencyKey } from "@/api/client";
import type { JsonObject } from "@/api/types";
import { useApi } from "@/app/api-context";
import { navigate } from "@/app/router";
import { recipeInput, valueAt, type Draft } from "./draft";

const SUMMARY: [string, string][] = [
  ["model.source", "Model"],
  ["growth.0.strategy", "Growth"],
  ["growth.0.options.r", "LoRA rank"],
  ["context.scale", "Context factor"],
  ["context.target_length", "Target context"],
  ["data.train", "Training data"],
  ["data.seq_length", "Tokens per row"],
  ["train.steps", "Steps"],
  ["safety.preset", "Safety preset"],
  ["gates.approve_before", "Approval before"],
];

/** The validated recipe at a glance, and the start button (one job per draft: Idempotency-Key). */
export function Review({ draft, recipe, blocked }: { draft: Draft; recipe: JsonObject | null; blocked: boolean }) {
  const api = useApi();
  const key = useMemo(() => newIdempotencyKey(), [draft]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const job = await api.submit(recipeInput(draft), key);
      navigate(`/jobs/${job.id}`);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="review-title" className="review">
      <h2 id="review-title">Review</h2>
      <dl className="facts">
        {SUMMARY.map(([path, label]) => {
          const v = valueAt(recipe, path);
          return (
            <div key={path}>
              <dt>{label}</dt>
              <dd>{v === null || v === undefined ? "—" : Array.isArray(v) ? v.join(", ") || "none" : String(v)}</dd>
            </div>
          );
        })}
      </dl>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      <button type="button" className="primary" onClick={start} disabled={busy || blocked || recipe === null}>
        {busy ? "Starting…" : "Start growing"}
      </button>
      {blocked && <p className="muted">Fix the problems marked above first.</p>}
    </section>
  );
}
