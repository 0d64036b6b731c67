import { useEffect, useState } from "react";
import { ApiError } from "@/api/client";
import type { ModelInfo } from "@/api/types";
import { useApi } from "@/app/api-context";
import { currentValue, problemsFor } from "./draft";
import { FieldFrame, TextField } from "./fields";
import { fieldSpec } from "./schemaFields";
import type { StepProps } from "./step";

/** Step 1: which model to grow (listed, or any folder / hub id / .gguf checked first) and its tokenizer. */
export function ModelStep({ draft, recipe, schema, problems, set }: StepProps) {
  const api = useApi();
  const [models, setModels] = useState<ModelInfo[]>([]);
  const [listError, setListError] = useState<string | null>(null);
  const source = String(currentValue(draft, recipe, "model.source") ?? "embedded");
  const listed = models.some((m) => m.source === source);

  useEffect(() => {
    api.models().then(setModels, (e: Error) => setListError(e.message));
  }, [api]);

  return (
    <section aria-labelledby="model-title">
      <h2 id="model-title">Model &amp; Tokenizer</h2>
      <FieldFrame path="model.source" label="Model" hint={fieldSpec(schema, "model.source").description} problems={problemsFor(problems, "model.source")}>
        {({ describedBy }) => (
          <div role="radiogroup" aria-describedby={describedBy} className="choices">
            {models.map((m) => (
              <label key={m.source} className="choice">
                <input type="radio" name="model" checked={m.source === source} onChange={() => set("model.source", m.source)} />
                <span>
                  <strong>{m.source}</strong> <span className="muted">({m.kind})</span> {m.message}
                  {!m.available && <span className="notice caution"> needs a download</span>}
                </span>
              </label>
            ))}
          </div>
        )}
      </FieldFrame>
      {listError && <p className="notice error">{listError}</p>}
      <ModelCheck initial={listed ? "" : source} onUse={(s) => set("model.source", s)} />
      <h3>Tokenizer</h3>
      <TextField
        path="model.tokenizer.pad_token"
        label="Pad token"
        hint={fieldSpec(schema, "model.tokenizer.pad_token").description}
        value={String(currentValue(draft, recipe, "model.tokenizer.pad_token") ?? "")}
        placeholder="the tokenizer's own"
        problems={problemsFor(problems, "model.tokenizer.pad_token")}
        onChange={(v) => set("model.tokenizer.pad_token", v || null)}
      />
      <TextField
        path="model.tokenizer.add_tokens"
        label="New tokens (comma-separated)"
        hint={fieldSpec(schema, "model.tokenizer.add_tokens").description}
        value={((currentValue(draft, recipe, "model.tokenizer.add_tokens") as string[] | undefined) ?? []).join(", ")}
        problems={problemsFor(problems, "model.tokenizer.add_tokens")}
        onChange={(v) =>
          set(
            "model.tokenizer.add_tokens",
            v.split(",").map((t) => t.trim()).filter(Boolean),
          )
        }
      />
    </section>
  );
}

/** Any other source, checked by the service before it is used. */
function ModelCheck({ initial, onUse }: { initial: string; onUse: (source: string) => void }) {
  const api = useApi();
  const [source, setSource] = useState(initial);
  const [info, setInfo] = useState<ModelInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const check = async () => {
    setBusy(true);
    setError(null);
    setInfo(null);
    try {
      const found = await api.checkModel(source.trim());
      setInfo(found);
      if (found.available) onUse(found.source);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="model-check">
      <label htmlFor="model-source">Another model: a folder, a .gguf file or a hub id</label>
      <div className="row">
        <input id="model-source" type="text" value={source} onChange={(e) => setSource(e.target.value)} placeholder="/path/to/model or owner/name" />
        <button type="button" onClick={check} disabled={busy || !source.trim()}>
          {busy ? "Checking…" : "Check and use"}
        </button>
      </div>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      {info && (
        <div className={`notice ${info.available ? "ok" : "caution"}`} role="status">
          <strong>{info.kind}</strong>: {info.available ? "usable without a download" : "not usable without a download"}
          {info.message && ` — ${info.message}`}
          {Object.keys(info.config ?? {}).length > 0 && (
            <dl className="facts">
              {Object.entries(info.config ?? {}).map(([k, v]) => (
                <div key={k}>
                  <dt>{k.replace(/_/g, " ")}</dt>
                  <dd>{String(v)}</dd>
                </div>
              ))}
            </dl>
          )}
        </div>
      )}
    </div>
  );
}
