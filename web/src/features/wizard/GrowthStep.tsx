import { useEffect, useState } from "react";
import type { TemplateInfo } from "@/api/types";
import { useApi } from "@/app/api-context";
import { DatasetPicker } from "./DatasetPicker";
import { currentValue, problemsFor } from "./draft";
import { choicesOf, NumberField, SelectField, SliderField, ToggleField } from "./fields";
import { fieldSpec } from "./schemaFields";
import type { StepProps } from "./step";

const ENGINES = ["auto", "none", "yarn", "linear", "dynamic", "llama3"];
const RANK = "growth.0.options.r";

/** Step 2: persona template, LoRA rank, context growth and the training data. */
export function GrowthStep(props: StepProps) {
  const { draft, recipe, schema, problems, set, setMany, setTemplate } = props;
  const api = useApi();
  const [templates, setTemplates] = useState<TemplateInfo[]>([]);
  useEffect(() => {
    api.templates().then(setTemplates, () => setTemplates([]));
  }, [api]);

  const value = (path: string) => currentValue(draft, recipe, path);
  const num = (path: string) => (typeof value(path) === "number" ? (value(path) as number) : null);
  const strategy = String(value("growth.0.strategy") ?? "lora");
  const rank = value(RANK);
  const byTarget = num("context.target_length") !== null;

  return (
    <section aria-labelledby="growth-title">
      <h2 id="growth-title">Growth Strategy</h2>
      <SelectField
        path="template"
        label="Persona template"
        hint={templates.find((t) => t.name === draft.template)?.description}
        value={draft.template}
        choices={templates.map((t) => ({ value: t.name, label: t.persona ? `${t.name} (persona)` : t.name }))}
        problems={[]}
        onChange={setTemplate}
      />
      <fieldset>
        <legend>Adapter ({strategy})</legend>
        <ToggleField
          path={RANK}
          label="Choose the rank from the data size (auto)"
          checked={rank === "auto"}
          problems={[]}
          onChange={(auto) => set(RANK, auto ? "auto" : 8)}
        />
        {rank !== "auto" && (
          <SliderField
            path={RANK}
            label="LoRA rank"
            spec={{ ...fieldSpec(schema, RANK), description: "Adapter rank: more capacity, more trainable parameters and memory." }}
            value={typeof rank === "number" ? rank : null}
            min={1}
            max={128}
            step={1}
            problems={problemsFor(problems, RANK)}
            onChange={(r) => set(RANK, r)}
          />
        )}
        <ToggleField
          path="growth.0.options.use_dora"
          label="DoRA (weight-decomposed LoRA)"
          hint="A LoRA variant: often better at low rank, a little slower."
          checked={value("growth.0.options.use_dora") === true}
          problems={problemsFor(problems, "growth.0.options.use_dora")}
          onChange={(on) => set("growth.0.options.use_dora", on)}
        />
      </fieldset>
      <fieldset>
        <legend>Context</legend>
        <SelectField
          path="context.engine"
          label="Context engine"
          hint={fieldSpec(schema, "context.engine").description}
          value={String(value("context.engine") ?? "auto")}
          choices={choicesOf(ENGINES)}
          problems={problemsFor(problems, "context.engine")}
          onChange={(v) => set("context.engine", v)}
        />
        <ToggleField
          path="context.target_length"
          label="Give the target context in tokens instead of a factor"
          checked={byTarget}
          problems={[]}
          onChange={(on) => setMany(on ? { "context.scale": null, "context.target_length": 4096 } : { "context.target_length": null, "context.scale": 2 })}
        />
        {byTarget ? (
          <NumberField
            path="context.target_length"
            label="Target context (tokens)"
            spec={fieldSpec(schema, "context.target_length")}
            value={num("context.target_length")}
            problems={problemsFor(problems, "context.target_length")}
            onChange={(v) => set("context.target_length", v)}
          />
        ) : (
          <SliderField
            path="context.scale"
            label="Context scaling factor"
            spec={fieldSpec(schema, "context.scale")}
            value={num("context.scale")}
            min={1}
            max={8}
            step={0.5}
            unit="×"
            problems={problemsFor(problems, "context.scale")}
            onChange={(v) => set("context.scale", v)}
          />
        )}
      </fieldset>
      <fieldset>
        <legend>Data</legend>
        <DatasetPicker {...props} />
        <SelectField
          path="data.format"
          label="Record format"
          hint={fieldSpec(schema, "data.format").description}
          value={String(value("data.format") ?? "auto")}
          choices={choicesOf(fieldSpec(schema, "data.format").choices ?? ["auto"])}
          problems={problemsFor(problems, "data.format")}
          onChange={(v) => set("data.format", v)}
        />
        <SliderField
          path="data.seq_length"
          label="Tokens per training row"
          spec={fieldSpec(schema, "data.seq_length")}
          value={num("data.seq_length")}
          min={fieldSpec(schema, "data.seq_length").minimum ?? 16}
          max={8192}
          step={16}
          problems={problemsFor(problems, "data.seq_length")}
          onChange={(v) => set("data.seq_length", v)}
        />
        <NumberField
          path="data.max_records"
          label="Records per source at most"
          spec={fieldSpec(schema, "data.max_records")}
          value={num("data.max_records")}
          problems={problemsFor(problems, "data.max_records")}
          onChange={(v) => set("data.max_records", v)}
        />
        <ToggleField
          path="data.packing"
          label="Pack records into rows"
          hint={fieldSpec(schema, "data.packing").description}
          checked={value("data.packing") !== false}
          problems={problemsFor(problems, "data.packing")}
          onChange={(v) => set("data.packing", v)}
        />
        <ToggleField
          path="data.split_turns"
          label="One example per assistant turn"
          hint={fieldSpec(schema, "data.split_turns").description}
          checked={value("data.split_turns") === true}
          problems={problemsFor(problems, "data.split_turns")}
          onChange={(v) => set("data.split_turns", v)}
        />
      </fieldset>
    </section>
  );
}

export const GROWTH_FIELDS = [
  "template",
  RANK,
  "growth.0.options.use_dora",
  "context.engine",
  "context.target_length",
  "context.scale",
  "data.train",
  "data.sources",
  "data.format",
  "data.seq_length",
  "data.max_records",
  "data.packing",
  "data.split_turns",
];
