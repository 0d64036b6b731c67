import { useEffect, useState } from "react";
import type { DatasetInfo } from "@/api/types";
import { useApi } from "@/app/api-context";
import { dataOverrides, listSaved } from "@/features/datasets/saved";
import { currentValue, problemsFor } from "./draft";
import { FieldFrame } from "./fields";
import { fieldSpec } from "./schemaFields";
import type { StepProps } from "./step";

/** Training data: a dataset saved in the builder, an earlier upload, or a path on this machine. */
export function DatasetPicker({ draft, recipe, schema, problems, setMany }: StepProps) {
  const api = useApi();
  const [uploads, setUploads] = useState<DatasetInfo[]>([]);
  const saved = listSaved();
  const train = String(currentValue(draft, recipe, "data.train") ?? "");

  useEffect(() => {
    api.datasets().then(setUploads, () => setUploads([]));
  }, [api]);

  const choose = (value: string) => {
    if (value.startsWith("saved:")) {
      const dataset = saved.find((d) => `saved:${d.name}` === value);
      if (dataset) setMany(dataOverrides(dataset));
    } else if (value.startsWith("upload:")) {
      const upload = uploads.find((u) => `upload:${u.id}` === value);
      if (upload) setMany({ "data.train": upload.path, "data.sources": [], "data.format": "auto" });
    }
  };
  const paths = [...saved.flatMap((d) => d.files.map((f) => f.path)), ...uploads.map((u) => u.path)];

  return (
    <FieldFrame path="data.train" label="Training data" hint={fieldSpec(schema, "data.train").description} problems={problemsFor(problems, "data.train")}>
      {({ input, describedBy, invalid }) => (
        <div className="stack">
          {(saved.length > 0 || uploads.length > 0) && (
            <select aria-label="Saved datasets and uploads" value="" onChange={(e) => choose(e.target.value)}>
              <option value="">Choose a saved dataset or an upload…</option>
              {saved.map((d) => (
                <option key={d.name} value={`saved:${d.name}`}>
                  {d.name} ({d.template}, {d.files.reduce((n, f) => n + f.records, 0)} records)
                </option>
              ))}
              {uploads.map((u) => (
                <option key={u.id} value={`upload:${u.id}`}>
                  upload: {u.name} ({u.records} records, {u.format})
                </option>
              ))}
            </select>
          )}
          <input
            id={input}
            type="text"
            list="known-data"
            value={train}
            aria-invalid={invalid}
            aria-describedby={describedBy}
            placeholder="/path/to/train.jsonl"
            onChange={(e) => setMany({ "data.train": e.target.value || null, "data.sources": [] })}
          />
          <datalist id="known-data">
            {paths.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
        </div>
      )}
    </FieldFrame>
  );
}
