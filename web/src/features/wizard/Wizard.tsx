import { useCallback, useEffect, useState } from "react";
import type { Json, JsonObject } from "@/api/types";
import { useApi } from "@/app/api-context";
import { unclaimed, valueAt, withOverride, type Draft } from "./draft";
import { GROWTH_FIELDS, GrowthStep } from "./GrowthStep";
import { ModelStep } from "./ModelStep";
import { PlanPanel } from "./PlanPanel";
import { Review } from "./Review";
import type { StepProps } from "./step";
import { TRAINING_FIELDS, TrainingStep } from "./TrainingStep";
import { usePlan, useValidation } from "./useRecipeCheck";

const MODEL_FIELDS = ["model.source", "model.tokenizer.pad_token", "model.tokenizer.add_tokens"];
const STEPS = [
  { title: "Model & Tokenizer", fields: MODEL_FIELDS, Component: ModelStep },
  { title: "Growth Strategy", fields: GROWTH_FIELDS, Component: GrowthStep },
  { title: "Training & Export", fields: TRAINING_FIELDS, Component: TrainingStep },
] as const;
const DRAFT_KEY = "scaler-wizard-draft";

function initialDraft(): Draft {
  try {
    const saved = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? "null") as Draft | null;
    if (saved && typeof saved.template === "string") return saved;
  } catch {
    // a broken saved draft starts over
  }
  return { template: "balanced", overrides: {} };
}

/** The three-step wizard with the live estimate beside it. */
export function Wizard() {
  const api = useApi();
  const [draft, setDraft] = useState<Draft>(initialDraft);
  const [step, setStep] = useState(0);
  const [schema, setSchema] = useState<JsonObject | null>(null);
  const check = useValidation(api, draft);
  const plan = usePlan(api, draft, check);

  useEffect(() => {
    api.recipeSchema().then(setSchema, () => setSchema(null));
  }, [api]);
  useEffect(() => {
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  }, [draft]);

  const set = useCallback((path: string, value: Json | undefined) => setDraft((d) => withOverride(d, path, value)), []);
  const setMany = useCallback(
    (values: Record<string, Json | undefined>) =>
      setDraft((d) => Object.entries(values).reduce((acc, [path, value]) => withOverride(acc, path, value), d)),
    [],
  );
  const setTemplate = useCallback((template: string) => setDraft((d) => ({ ...d, template })), []);

  const problems = [...check.problems, ...plan.problems];
  const props: StepProps = { draft, recipe: check.recipe, schema, problems, set, setMany, setTemplate };
  const current = STEPS[step] ?? STEPS[0];
  const elsewhere = unclaimed(problems, current.fields);
  const hasData = Boolean(valueAt(check.recipe, "data.train")) || Boolean((valueAt(check.recipe, "data.sources") as unknown[] | undefined)?.length);
  const last = step === STEPS.length - 1;

  return (
    <main className="page wizard" aria-labelledby="wizard-title">
      <h1 id="wizard-title">Grow a model</h1>
      <ol className="stepper">
        {STEPS.map((s, i) => (
          <li key={s.title}>
            <button type="button" aria-current={i === step ? "step" : undefined} onClick={() => setStep(i)}>
              <span className="step-number">{i + 1}</span> {s.title}
              {problems.some((p) => !unclaimed([p], s.fields).length) && <span className="badge error" aria-label="has problems">!</span>}
            </button>
          </li>
        ))}
      </ol>
      <div className="wizard-body">
        <div className="panel">
          <p className="status-line" aria-live="polite">
            {check.validating ? "Checking…" : problems.length ? `${problems.length} problem(s) to fix` : "The recipe is valid."}
          </p>
          {elsewhere.length > 0 && (
            <ul className="notice error" aria-label="Problems">
              {elsewhere.map((p) => (
                <li key={p.path + p.message}>
                  {p.path ? <code>{p.path}</code> : null} {p.message}
                </li>
              ))}
            </ul>
          )}
          {check.message && !check.problems.length && <p className="notice error">{check.message}</p>}
          <current.Component {...props} />
          {last && <Review draft={draft} recipe={check.recipe} blocked={problems.length > 0 || check.validating} />}
          <div className="row nav-buttons">
            <button type="button" onClick={() => setStep(step - 1)} disabled={step === 0}>
              Back
            </button>
            {!last && (
              <button type="button" className="primary" onClick={() => setStep(step + 1)}>
                Next: {STEPS[step + 1]?.title}
              </button>
            )}
          </div>
        </div>
        <PlanPanel state={plan} hasData={hasData} />
      </div>
    </main>
  );
}
