import { ev, readSchema, resetSeq } from "@/test/fixtures";
import { checkpointName, emptySnapshot, fold, foldAll } from "./cockpit";

beforeEach(resetSeq);

describe("cockpit fold", () => {
  it("has exactly the published snapshot's fields", () => {
    const schema = readSchema("cockpit-snapshot.schema.json");
    expect(Object.keys(emptySnapshot("r")).sort()).toEqual(Object.keys(schema.properties as object).sort());
  });

  it("follows a run through training, a gate and the end", () => {
    const events = [
      ev("RunStarted"),
      ev("PhaseStarted", { phase: "train" }),
      ev("ProgressUpdated", { task: "train", done: 0, total: 3 }),
      ev("StepLogged", { loss: 2.5, tokens_per_s: 100, eta_s: 9, memory_gib: 0.5 }, { step: 1 }),
      ev("CheckpointSaved", { path: "/w/runs/r/checkpoints/step-000001" }, { step: 1 }),
      ev("EvalCompleted", { model: "grown", metrics: { eval_perplexity: 12.5 } }, { step: 1 }),
      ev("ApprovalRequested", { point: "export", timeout_s: 60 }, { step: 1 }),
    ].map((e) => ({ ...e, run_id: "run-1" }));
    const waiting = foldAll("run-1", events);
    expect(waiting).toMatchObject({ status: "awaiting_approval", phase: "train", step: 1, total_steps: 3, loss: 2.5, eval_perplexity: 12.5 });
    expect(waiting.approval?.point).toBe("export");
    expect(Date.parse(waiting.approval?.deadline ?? "") - Date.parse(events[6]?.time ?? "")).toBe(60_000);
    expect(checkpointName(waiting.last_checkpoint)).toBe("step-000001");
    const decided = fold(waiting, ev("ApprovalDecided", { point: "export", decision: "approve" }));
    expect(decided).toMatchObject({ status: "running", approval: null });
    expect(fold(decided, ev("RunFinished", { status: "completed" }))).toMatchObject({ status: "completed", eta_s: 0 });
  });

  it("shows the breaker's state, the active alert, and rollbacks", () => {
    let s = emptySnapshot("run-1");
    s = fold(s, ev("BreakerTripped", { trigger: "loss_spike", action: "pause", reason: "loss 9 > 4σ" }));
    expect(s).toMatchObject({ breaker: "open", breaker_reason: "loss 9 > 4σ" });
    s = fold(s, ev("BreakerProbationStarted", {}));
    expect(s.breaker).toBe("half_open");
    s = fold(s, ev("AlertRaised", { alert_id: "a-1", priority: "warning", title: "Stopped", message: "m" }));
    expect(s.alert?.title).toBe("Stopped");
    expect(fold(s, ev("AlertCleared", { alert_id: "other" })).alert).not.toBeNull();
    s = fold(s, ev("AlertCleared", { alert_id: "a-1" }));
    expect(s.alert).toBeNull();
    s = fold(s, ev("RolledBack", { checkpoint: "/r/checkpoints/step-000002", set_aside: "/r/abandoned/x" }, { segment: 1 }));
    expect(s).toMatchObject({ status: "rolled_back", segment: 1, last_checkpoint: "/r/checkpoints/step-000002" });
  });

  it("ignores an event already folded, or from another run, and NaN as null", () => {
    const s = fold(emptySnapshot("run-1"), ev("StepLogged", { loss: null, tokens_per_s: 5 }));
    expect(s.loss).toBeNull();
    expect(fold(s, { ...ev("RunFailed", {}), seq: s.last_seq })).toBe(s);
    expect(fold(s, { ...ev("RunFailed", {}), run_id: "other" })).toBe(s);
  });
});
