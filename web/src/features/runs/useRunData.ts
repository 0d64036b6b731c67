// What a run's charts need from the service: manifest, file list, needle files, and (for runs
// not followed live) the event log.
import { useEffect, useState } from "react";
import type { FileEntry, JsonObject } from "@/api/types";
import { useApi } from "@/app/api-context";
import { parseEventLog, type RunEvent } from "@/lib/events";

export interface RunData {
  manifest: JsonObject | null;
  files: FileEntry[];
  needle: Record<string, JsonObject>;
  events: RunEvent[];
  error: string | null;
}

/** `version` changes reload it (e.g. each time the job's state changes). */
export function useRunData(runId: string | null, withEvents: boolean, version: unknown = 0): RunData {
  const api = useApi();
  const [data, setData] = useState<RunData>({ manifest: null, files: [], needle: {}, events: [], error: null });
  useEffect(() => {
    if (!runId) return;
    let live = true;
    (async () => {
      try {
        const [manifest, files] = await Promise.all([api.manifest(runId).catch(() => null), api.files(runId)]);
        const needle: Record<string, JsonObject> = {};
        for (const file of files.filter((f) => /^eval\/needle_\w+\.json$/.test(f.path))) {
          const model = file.path.replace(/^eval\/needle_(\w+)\.json$/, "$1");
          needle[model] = JSON.parse(await api.fileText(runId, file.path)) as JsonObject;
        }
        const events = withEvents && files.some((f) => f.path === "events.jsonl") ? parseEventLog(await api.fileText(runId, "events.jsonl")) : [];
        if (live) setData({ manifest, files, needle, events, error: null });
      } catch (e) {
        if (live) setData((d) => ({ ...d, error: e instanceof Error ? e.message : String(e) }));
      }
    })();
    return () => {
      live = false;
    };
  }, [api, runId, withEvents, version]);
  return data;
}
