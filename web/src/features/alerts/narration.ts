// Which narration to play for an alert: the service's WAV when it rendered one, else the
// browser's speech synthesis with the text the service kept (or the alert's own words).

export interface Narration {
  number: number;
  label: string;
  language: string;
  text: string;
  wav: string | null;
  fallback_reason: string | null;
}

export type Playback = { kind: "wav"; path: string } | { kind: "speech"; text: string; lang: string };

export function parseNarrations(jsonl: string): Narration[] {
  const out: Narration[] = [];
  for (const line of jsonl.split("\n")) {
    if (!line.trim()) continue;
    try {
      const n = JSON.parse(line) as Partial<Narration>;
      if (typeof n.label === "string") {
        out.push({
          number: Number(n.number ?? 0),
          label: n.label,
          language: String(n.language ?? "en"),
          text: String(n.text ?? ""),
          wav: typeof n.wav === "string" && n.wav ? n.wav : null,
          fallback_reason: n.fallback_reason ?? null,
        });
      }
    } catch {
      // a line being written
    }
  }
  return out;
}

/** The newest narration of `alertId` (an alert shown again is narrated again). */
export function pickPlayback(
  narrations: readonly Narration[],
  files: readonly string[],
  alert: { alert_id: string; title: string; message: string },
  language = "en",
): Playback {
  const mine = narrations.filter((n) => n.label === alert.alert_id).sort((a, b) => b.number - a.number)[0];
  if (mine?.wav) {
    const name = mine.wav.split("/").pop() ?? mine.wav;
    const path = files.find((f) => f.startsWith("alerts/voice/") && f.endsWith(`/${name}`));
    if (path) return { kind: "wav", path };
  }
  if (mine?.text) return { kind: "speech", text: mine.text, lang: mine.language };
  return { kind: "speech", text: [alert.title, alert.message].filter(Boolean).join(". "), lang: language };
}
