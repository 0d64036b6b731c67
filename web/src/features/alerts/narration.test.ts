import { ev, resetSeq } from "@/test/fixtures";
import { alertRows } from "./AlertsPanel";
import { parseNarrations, pickPlayback } from "./narration";

const ALERT = { alert_id: "breaker_tripped-3", title: "Training stopped", message: "loss spike" };

describe("narration", () => {
  beforeEach(resetSeq);

  it("plays the service's WAV when it rendered one", () => {
    const log = JSON.stringify({ number: 1, label: "breaker_tripped-3", language: "es", text: "Aviso.", wav: "/w/runs/r/alerts/voice/0001-es.wav", fallback_reason: null });
    expect(pickPlayback(parseNarrations(log), ["alerts/voice/0001-es.wav"], ALERT)).toEqual({ kind: "wav", path: "alerts/voice/0001-es.wav" });
  });

  it("lets the browser speak the kept text when the service had no voice for the language", () => {
    const log = JSON.stringify({ number: 2, label: "breaker_tripped-3", language: "es", text: "Aviso. Entrenamiento detenido.", wav: null, fallback_reason: "es: no speech engine" });
    expect(pickPlayback(parseNarrations(`${log}\n{broken`), [], ALERT)).toEqual({ kind: "speech", text: "Aviso. Entrenamiento detenido.", lang: "es" });
  });

  it("speaks the alert's own words when nothing was narrated", () => {
    expect(pickPlayback([], [], ALERT, "fr")).toEqual({ kind: "speech", text: "Training stopped. loss spike", lang: "fr" });
  });

  it("lists alerts newest first with how each ended", () => {
    const rows = alertRows([
      ev("AlertRaised", { alert_id: "a", priority: "caution", title: "Waiting", message: "" }),
      ev("AlertCleared", { alert_id: "a", reason: "finished" }),
      ev("AlertRaised", { alert_id: "b", priority: "warning", title: "Stopped", message: "" }),
    ]);
    expect(rows.map((r) => [r.alert_id, r.cleared])).toEqual([
      ["b", null],
      ["a", "finished"],
    ]);
  });
});
