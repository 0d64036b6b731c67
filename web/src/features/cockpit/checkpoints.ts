// The checkpoints a rollback can return to: saved ones, minus those a rollback set aside.
import { text, type RunEvent } from "@/lib/events";
import { stepOf } from "@/features/charts/shape";

export function availableCheckpoints(events: readonly RunEvent[]): string[] {
  const names = new Map<string, number>();
  for (const event of events) {
    const path = event.type === "CheckpointSaved" || event.type === "RunPaused" ? text(event.data.checkpoint ?? event.data.path) : "";
    if (path) {
      const name = path.split("/").pop() ?? path;
      names.set(name, stepOf(name) ?? 0);
    }
    if (event.type === "RolledBack") {
      const back = stepOf(text(event.data.checkpoint)) ?? 0;
      for (const [name, step] of names) if (step > back) names.delete(name);
    }
  }
  return [...names.entries()].sort((a, b) => a[1] - b[1]).map(([name]) => name);
}
