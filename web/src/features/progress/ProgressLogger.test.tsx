import { render, screen } from "@testing-library/react";
import type { JobDetail } from "@/api/types";
import { emptySnapshot, foldAll } from "@/lib/cockpit";
import { ev, resetSeq } from "@/test/fixtures";
import { explainFailure } from "./describe";
import { ProgressLogger } from "./ProgressLogger";

beforeEach(resetSeq);

describe("progress logger", () => {
  it("shows phase, step of total, loss, speed, ETA and the log", () => {
    const events = [
      ev("RunStarted"),
      ev("PhaseStarted", { phase: "train", description: "4 steps" }),
      ev("ProgressUpdated", { task: "train", done: 0, total: 4 }),
      ev("StepLogged", { loss: 2.34567, tokens_per_s: 812, eta_s: 95, memory_gib: 2.1 }, { step: 2 }),
    ];
    render(<ProgressLogger job={null} events={events} snapshot={foldAll("run-1", events)} stream={{ state: "open" }} />);
    expect(screen.getByTestId("gauge-step")).toHaveTextContent("2 / 4");
    expect(screen.getByText("2.346")).toBeInTheDocument();
    expect(screen.getByText("1 min 35 s")).toBeInTheDocument();
    expect(screen.getByRole("list", { name: "Run log" })).toHaveTextContent("step 2: loss 2.346, 812 tokens/s, 2.1 GiB");
    expect(screen.getByRole("status")).toHaveTextContent("Events: live");
  });

  it("says why a crashed run failed, in plain words, with the details folded away", () => {
    const job = { status: "failed", reason: "data: line 1: 'messages' must be a list", stderr_tail: "Traceback ...", error: null } as unknown as JobDetail;
    render(<ProgressLogger job={job} events={[]} snapshot={emptySnapshot("")} stream={{ state: "ended" }} />);
    expect(screen.getByTestId("failure")).toHaveTextContent("The run failed while reading the training data: line 1: 'messages' must be a list");
    expect(screen.getByText("Technical details")).toBeInTheDocument();
  });

  it("tells the reader when the connection dropped and is being resumed", () => {
    render(<ProgressLogger job={null} events={[]} snapshot={emptySnapshot("")} stream={{ state: "reconnecting", detail: "connection lost; trying again in 2 s" }} />);
    expect(screen.getByRole("status")).toHaveTextContent("reconnecting, no event will be missed (connection lost; trying again in 2 s)");
  });

  it("explains lost and aborted jobs too", () => {
    expect(explainFailure({ status: "lost", reason: "process 12 ended" })).toContain("no service watched it");
    expect(explainFailure({ status: "aborted", reason: "denied at export" })).toBe("The run was stopped: denied at export");
    expect(explainFailure({ status: "completed" })).toBeNull();
  });
});
