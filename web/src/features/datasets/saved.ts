// Dataset recipes saved by the dataset builder: the data section a wizard run can use.
import type { Json } from "@/api/types";

export interface SavedDataset {
  name: string;
  template: string;
  format: string;
  files: { path: string; name: string; records: number }[];
  saved: string;
}

const KEY = "scaler-wizard-datasets";

export function listSaved(storage: Storage = localStorage): SavedDataset[] {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(KEY) ?? "[]");
    return Array.isArray(parsed) ? (parsed as SavedDataset[]) : [];
  } catch {
    return [];
  }
}

export function saveDataset(dataset: SavedDataset, storage: Storage = localStorage): void {
  const others = listSaved(storage).filter((d) => d.name !== dataset.name);
  storage.setItem(KEY, JSON.stringify([dataset, ...others]));
}

/** The recipe overrides that select this dataset: one file as data.train, several as data.sources. */
export function dataOverrides(dataset: SavedDataset): Record<string, Json> {
  const [only, ...more] = dataset.files;
  if (!only) return {};
  const train: Json = more.length ? null : only.path;
  const sources: Json = more.length ? dataset.files.map((f) => ({ path: f.path, name: f.name, weight: 1 })) : [];
  return { "data.train": train, "data.sources": sources, "data.format": dataset.format };
}
