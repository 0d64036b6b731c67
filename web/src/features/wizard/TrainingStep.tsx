import type { Json } from "@/api/types";
import { currentValue, problemsFor } from "./draft";
import { choicesOf, NumberField, SelectField, ToggleField } from "./fields";
import { fieldSpec } from "./schemaFields";
import type { StepProps } from "./step";

const LANGUAGES = [
  { value: "en", label: "English" },
  { value: "es", label: "Spanish" },
  { value: "fr", label: "French" },
  { value: "de", label: "German" },
  { value: "zh", label: "Mandarin" },
];
const NEEDLE: Json = { depths: [0, 0.5, 1], trials: 1, baseline: true };

/** Step 3: the training loop, safety, the approval gate, what is measured and exported. */
export function TrainingStep({ draft, recipe, schema, problems, set }: StepProps) {
  const value = (path: string) => currentValue(draft, recipe, path);
  const num = (path: string) => (typeof value(path) === "number" ? (value(path) as number) : null);
  const numberField = (path: string, label: string) => (
    <NumberField key={path} path={path} label={label} spec={fieldSpec(schema, path)} value={num(path)} problems={problemsFor(problems, path)} onChange={(v) => set(path, v)} />
  );
  const toggle = (path: string, label: string) => (
    <ToggleField
      key={path}
      path={path}
      label={label}
      hint={fieldSpec(schema, path).description}
      checked={value(path) === true}
      problems={problemsFor(problems, path)}
      onChange={(v) => set(path, v)}
    />
  );
  const gates = (value("gates.approve_before") as string[] | undefined) ?? [];

  return (
    <section aria-labelledby="training-title">
      <h2 id="training-title">Training &amp; Export</h2>
      <fieldset>
        <legend>Training</legend>
        {numberField("train.steps", "Optimizer steps")}
        {numberField("train.batch_size", "Rows per micro-batch")}
        {numberField("train.learning_rate", "Learning rate")}
        {numberField("train.checkpoint_every", "Checkpoint every (steps)")}
      </fieldset>
      <fieldset>
        <legend>Safety</legend>
        <SelectField
          path="safety.preset"
          label="Circuit-breaker preset"
          hint={fieldSpec(schema, "safety.preset").description}
          value={String(value("safety.preset") ?? "standard")}
          choices={choicesOf(fieldSpec(schema, "safety.preset").choices)}
          problems={problemsFor(problems, "safety.preset")}
          onChange={(v) => set("safety.preset", v)}
        />
        <ToggleField
          path="gates.approve_before"
          label="Ask me before exporting"
          hint="The run waits after its checks; you approve or deny the export here."
          checked={gates.includes("export")}
          problems={problemsFor(problems, "gates.approve_before")}
          onChange={(on) => set("gates.approve_before", on ? [...new Set([...gates, "export"])] : gates.filter((g) => g !== "export"))}
        />
      </fieldset>
      <fieldset>
        <legend>Evaluation</legend>
        {toggle("evaluate.held_out", "Held-out loss and perplexity, before and after")}
        <ToggleField
          path="evaluate.passkey"
          label="Passkey retrieval at the target context"
          hint={fieldSpec(schema, "evaluate.passkey").description}
          checked={value("evaluate.passkey") !== null && value("evaluate.passkey") !== undefined}
          problems={problemsFor(problems, "evaluate.passkey")}
          onChange={(on) => set("evaluate.passkey", on ? { trials: 1, baseline: true } : null)}
        />
        <ToggleField
          path="evaluate.needle"
          label="Needle-in-a-haystack grid (heatmap)"
          hint={fieldSpec(schema, "evaluate.needle").description}
          checked={value("evaluate.needle") !== null && value("evaluate.needle") !== undefined}
          problems={problemsFor(problems, "evaluate.needle")}
          onChange={(on) => set("evaluate.needle", on ? NEEDLE : null)}
        />
      </fieldset>
      <fieldset>
        <legend>Export and alerts</legend>
        {toggle("export.adapter", "Save the adapter")}
        {toggle("export.merged", "Save the merged model")}
        {toggle("export.gguf.enabled", "Also write a GGUF file (llama.cpp, Ollama)")}
        {toggle("alerts.voice.enabled", "Narrate alerts aloud")}
        <SelectField
          path="alerts.voice.language"
          label="Narration language"
          hint={fieldSpec(schema, "alerts.voice.language").description}
          value={String(value("alerts.voice.language") ?? "en")}
          choices={LANGUAGES}
          problems={problemsFor(problems, "alerts.voice.language")}
          onChange={(v) => set("alerts.voice.language", v)}
        />
      </fieldset>
    </section>
  );
}

export const TRAINING_FIELDS = [
  "train.steps",
  "train.batch_size",
  "train.learning_rate",
  "train.checkpoint_every",
  "safety.preset",
  "gates.approve_before",
  "evaluate.held_out",
  "evaluate.passkey",
  "evaluate.needle",
  "export.adapter",
  "export.merged",
  "export.gguf.enabled",
  "alerts.voice.enabled",
  "alerts.voice.language",
];
