import { useEffect, useRef, useState } from "react";
import { useApi } from "@/app/api-context";
import { text, type RunEvent } from "@/lib/events";
import { parseNarrations, pickPlayback, type Playback } from "./narration";

interface AlertRow {
  alert_id: string;
  priority: string;
  title: string;
  message: string;
  time: string;
  cleared: string | null;
}

export function alertRows(events: readonly RunEvent[]): AlertRow[] {
  const rows = new Map<string, AlertRow>();
  for (const e of events) {
    const id = text(e.data.alert_id);
    if (e.type === "AlertRaised") {
      rows.set(id, { alert_id: id, priority: text(e.data.priority), title: text(e.data.title), message: text(e.data.message), time: e.time, cleared: null });
    } else if (e.type === "AlertCleared") {
      const row = rows.get(id);
      if (row) row.cleared = text(e.data.reason);
    }
  }
  return [...rows.values()].reverse();
}

/** Every alert of the run, newest first, each playable; new ones narrated when asked to. */
export function AlertsPanel({ runId, events, language }: { runId: string | null; events: readonly RunEvent[]; language: string }) {
  const api = useApi();
  const rows = alertRows(events);
  const [narrate, setNarrate] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const spoken = useRef(new Set<string>());

  const play = async (row: AlertRow) => {
    let playback: Playback = { kind: "speech", text: `${row.title}. ${row.message}`, lang: language };
    if (runId) {
      try {
        const files = (await api.files(runId)).map((f) => f.path);
        const list = files.includes("alerts/voice/narrations.jsonl") ? await api.fileText(runId, "alerts/voice/narrations.jsonl") : "";
        playback = pickPlayback(parseNarrations(list), files, row, language);
      } catch {
        // the browser's voice still works
      }
    }
    if (playback.kind === "wav") {
      setNote("Playing the service's narration.");
      await new Audio(api.fileUrl(runId ?? "", playback.path)).play().catch(() => setNote("The browser refused to play audio."));
    } else if ("speechSynthesis" in window) {
      setNote(`The service has no recording for this alert; the browser reads it (${playback.lang}).`);
      const utterance = new SpeechSynthesisUtterance(playback.text);
      utterance.lang = playback.lang;
      window.speechSynthesis.speak(utterance);
    } else {
      setNote("This browser cannot speak; read the alert above.");
    }
  };

  const newest = rows[0];
  useEffect(() => {
    if (!narrate || !newest || newest.cleared || spoken.current.has(newest.alert_id + newest.time)) return;
    spoken.current.add(newest.alert_id + newest.time);
    const timer = setTimeout(() => void play(newest), 1500); // the WAV is written just after the alert
    return () => clearTimeout(timer);
  });

  return (
    <section className="panel alerts" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts</h2>
      <label className="row small">
        <input type="checkbox" role="switch" checked={narrate} onChange={(e) => setNarrate(e.target.checked)} /> Narrate new alerts aloud
      </label>
      {note && <p className="muted small" role="status">{note}</p>}
      {rows.length === 0 ? (
        <p className="muted">No alert so far: all is well.</p>
      ) : (
        <ul className="alert-list">
          {rows.map((r) => (
            <li key={r.alert_id + r.time} className={`alert ${r.priority}`}>
              <strong>{r.title}</strong> <span className="muted">({r.priority}{r.cleared ? `, ${r.cleared}` : ", active"})</span>
              {r.message && <p>{r.message}</p>}
              <button type="button" className="small" onClick={() => void play(r)} aria-label={`Play alert: ${r.title}`}>
                ▶ Play
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
