import { useState, type DragEvent } from "react";
import type { DatasetInfo } from "@/api/types";
import { useApi } from "@/app/api-context";
import { navigate } from "@/app/router";
import { DataReport } from "./DataReport";
import { dataOverrides, saveDataset, type SavedDataset } from "./saved";
import { DATASET_TEMPLATES, formatMismatch, templateById } from "./templates";
import { ApiError } from "@/api/client";
import { formatBytes } from "@/lib/format";

/** The service's upload limit (`scaler-wizard serve`: 512 MiB). It answers a larger upload
 * before reading it, which browsers report as a dropped connection, so the check is made here. */
export const MAX_UPLOAD_BYTES = 512 * 2 ** 20;

export function uploadRefusal(file: File): string | null {
  if (file.size > MAX_UPLOAD_BYTES) {
    return `${file.name} is ${formatBytes(file.size)}, over the service's upload limit of ${formatBytes(MAX_UPLOAD_BYTES)}. Split it, or give its path on this machine as the training data in the wizard.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

type Upload = { name: string; state: "uploading" } | { name: string; state: "done"; info: DatasetInfo } | { name: string; state: "refused"; reason: string };

/** Drop files onto a template, see what the service parsed, save the set as a dataset recipe. */
export function DatasetBuilder() {
  const api = useApi();
  const [templateId, setTemplateId] = useState("chats");
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [over, setOver] = useState(false);
  const [name, setName] = useState("");
  const [saved, setSaved] = useState<SavedDataset | null>(null);
  const template = templateById(templateId);

  const send = async (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      setUploads((u) => [...u.filter((x) => x.name !== file.name), { name: file.name, state: "uploading" }]);
      let result: Upload;
      const refusal = uploadRefusal(file);
      if (refusal) {
        result = { name: file.name, state: "refused", reason: refusal };
      } else {
        try {
          result = { name: file.name, state: "done", info: await api.upload(file) };
        } catch (e) {
          const dropped = e instanceof ApiError && e.status === 0;
          const reason = dropped ? `the service closed the connection while receiving ${formatBytes(file.size)}; is it still running?` : e instanceof Error ? e.message : String(e);
          result = { name: file.name, state: "refused", reason };
        }
      }
      setUploads((u) => u.map((x) => (x.name === file.name ? result : x)));
    }
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    void send(event.dataTransfer.files);
  };

  const done = uploads.filter((u): u is Extract<Upload, { state: "done" }> => u.state === "done");
  const save = () => {
    const dataset: SavedDataset = {
      name: name.trim(),
      template: template.title,
      format: template.format,
      files: done.map((u) => ({ path: u.info.path, name: u.info.name, records: u.info.records })),
      saved: new Date().toISOString(),
    };
    saveDataset(dataset);
    setSaved(dataset);
  };

  const useInWizard = (dataset: SavedDataset) => {
    const key = "scaler-wizard-draft";
    const draft = JSON.parse(sessionStorage.getItem(key) ?? '{"template": "balanced", "overrides": {}}') as { template: string; overrides: object };
    sessionStorage.setItem(key, JSON.stringify({ ...draft, overrides: { ...draft.overrides, ...dataOverrides(dataset) } }));
    navigate("/");
  };

  return (
    <main className="page" aria-labelledby="datasets-title">
      <h1 id="datasets-title">Dataset builder</h1>
      <fieldset className="template-picker">
        <legend>Template</legend>
        {DATASET_TEMPLATES.map((t) => (
          <label key={t.id} className="choice">
            <input type="radio" name="dataset-template" checked={t.id === templateId} onChange={() => setTemplateId(t.id)} />
            <span>
              <strong>{t.title}</strong> — {t.description}
              <code className="example">{t.example}</code>
            </span>
          </label>
        ))}
      </fieldset>
      <div
        className={`dropzone${over ? " over" : ""}`}
        onDragOver={(e) => (e.preventDefault(), setOver(true))}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <p>
          Drop {template.title.toLowerCase()} files here ({template.accepts.replace(/,/g, ", ")}), or
        </p>
        <label className="button">
          choose files
          <input
            type="file"
            className="visually-hidden"
            multiple
            accept={template.accepts}
            data-testid="dataset-file"
            onChange={(e) => e.target.files && void send(e.target.files)}
          />
        </label>
      </div>
      <ul className="uploads" aria-label="Uploaded files">
        {uploads.map((u) => (
          <li key={u.name}>
            <strong>{u.name}</strong>{" "}
            {u.state === "uploading" && <span className="muted">uploading and reading…</span>}
            {u.state === "refused" && (
              <p className="notice error" role="alert">
                Refused: {u.reason}
              </p>
            )}
            {u.state === "done" && <DataReport info={u.info} mismatch={formatMismatch(template, u.info.format)} />}
          </li>
        ))}
      </ul>
      {done.length > 0 && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (name.trim()) save();
          }}
        >
          <label htmlFor="dataset-name">Dataset name</label>
          <input id="dataset-name" type="text" value={name} onChange={(e) => setName(e.target.value)} required />
          <button type="submit" className="primary">
            Save as dataset recipe
          </button>
        </form>
      )}
      {saved && (
        <p className="notice ok" role="status">
          Saved “{saved.name}” ({saved.files.length} file(s)). It is listed under Training data in the wizard.{" "}
          <button type="button" onClick={() => useInWizard(saved)}>
            Use it in the wizard now
          </button>
        </p>
      )}
    </main>
  );
}
