// The live estimate beside the wizard: training memory against the budget, and the context plan.
import type { JsonObject } from "@/api/types";
import { asObject } from "@/features/charts/shape";
import { finite, text } from "@/lib/events";
import { formatGib, formatNumber } from "@/lib/format";
import type { PlanState } from "./useRecipeCheck";

export function PlanPanel({ state, hasData }: { state: PlanState; hasData: boolean }) {
  const { plan, planning, stale, message } = state;
  return (
    <aside className="panel plan" aria-labelledby="plan-title" aria-busy={planning}>
      <h2 id="plan-title">Estimate</h2>
      {!hasData && <p className="muted">Choose training data to see the memory estimate and the context plan.</p>}
      {planning && <p className="status-line">Updating the plan…</p>}
      {message && (
        <p className="notice error" role="alert">
          The plan failed: {message}
        </p>
      )}
      {plan && (
        <div className={stale ? "stale" : undefined}>
          <MemoryEstimate plan={plan} />
          <ContextPlan plan={plan} />
        </div>
      )}
    </aside>
  );
}

const PARTS: [string, string][] = [
  ["weights_gib", "weights"],
  ["trainable_gib", "trainable state"],
  ["activations_gib", "activations"],
  ["logits_gib", "LM-head chunk"],
  ["runtime_gib", "runtime"],
];

export function MemoryEstimate({ plan }: { plan: JsonObject }) {
  const training = asObject(plan.training);
  const memory = asObject(training?.memory);
  const total = finite(memory?.total_gib);
  const budget = finite(training?.budget_gib);
  const share = total !== null && budget ? Math.min(1, total / budget) : null;
  return (
    <section aria-label="Memory estimate">
      <h3>Training memory</h3>
      <p className="big-number" data-testid="memory-total">
        {formatGib(total)}
        {budget !== null && <span className="muted"> of {formatGib(budget)} usable</span>}
      </p>
      {share !== null && (
        <meter min={0} max={1} low={0.7} high={0.9} optimum={0.3} value={share} aria-label="Share of usable memory" />
      )}
      <dl className="facts">
        {PARTS.map(([key, label]) => (
          <div key={key}>
            <dt>{label}</dt>
            <dd>{formatGib(finite(memory?.[key]))}</dd>
          </div>
        ))}
        <div>
          <dt>trainable parameters</dt>
          <dd>{formatNumber(finite(memory?.trainable_params))}</dd>
        </div>
      </dl>
    </section>
  );
}

export function ContextPlan({ plan }: { plan: JsonObject }) {
  const context = asObject(plan.context);
  if (!context) return null;
  const reasons = Array.isArray(context.reasons) ? context.reasons.map(text) : [];
  const warnings = Array.isArray(context.warnings) ? context.warnings.map(text) : [];
  return (
    <section aria-label="Context plan">
      <h3>Context</h3>
      <p data-testid="context-plan">
        {formatNumber(finite(context.native_length))} → <strong>{formatNumber(finite(context.target_length))}</strong> tokens
        {" · "}
        {text(context.engine) || "none"} ×{formatNumber(finite(context.factor))}
      </p>
      {warnings.map((w) => (
        <p key={w} className="notice caution">
          {w}
        </p>
      ))}
      <ul className="reasons">
        {reasons.map((r) => (
          <li key={r}>{r}</li>
        ))}
      </ul>
    </section>
  );
}
