import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { JobDetail } from "@/api/types";
import { emptySnapshot, type CockpitSnapshot } from "@/lib/cockpit";
import { CockpitStrip } from "./CockpitStrip";

function job(status: JobDetail["status"], extra: Partial<JobDetail> = {}): JobDetail {
  return {
    id: "job-000000000001",
    status,
    recipe_name: "tiny",
    run_id: "run-1",
    created: "",
    updated: "",
    resume: false,
    metrics: {},
    stderr_tail: "",
    ...extra,
  } as JobDetail;
}

function strip(j: JobDetail | null, snapshot: Partial<CockpitSnapshot>, checkpoints = ["step-000001", "step-000002"]) {
  const onDecide = vi.fn(async () => undefined);
  const onRollback = vi.fn(async () => undefined);
  render(<CockpitStrip job={j} snapshot={{ ...emptySnapshot("run-1"), ...snapshot }} checkpoints={checkpoints} onDecide={onDecide} onRollback={onRollback} />);
  return { onDecide, onRollback };
}

describe("cockpit strip", () => {
  it("is dark while all is well: no alert, breaker closed, no approval", () => {
    strip(job("running"), { status: "running" });
    expect(screen.getByText("No active alert.")).toBeInTheDocument();
    expect(screen.getByText("closed (all well)")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Approve" })).toBeNull();
  });

  it("shows the active alert with its priority, and an open breaker with its reason", () => {
    strip(job("paused"), {
      breaker: "open",
      breaker_reason: "loss spiked 3 times",
      alert: { alert_id: "a", priority: "warning", title: "Training stopped", message: "see the breaker" },
    });
    expect(screen.getByTestId("active-alert")).toHaveTextContent("Training stopped — see the breaker (warning)");
    expect(screen.getByText("open (training stopped)")).toBeInTheDocument();
    expect(screen.getByText(/loss spiked 3 times/)).toBeInTheDocument();
  });

  it("offers Approve and Deny at a pending gate, with the note", async () => {
    const user = userEvent.setup();
    const { onDecide } = strip(job("awaiting_approval", { awaiting: "export" }), {
      status: "awaiting_approval",
      approval: { point: "export", deadline: new Date(Date.now() + 600e3).toISOString() },
    });
    expect(screen.getByText(/Waiting for your decision before export/)).toBeInTheDocument();
    await user.type(screen.getByLabelText(/Note/), "looks fine");
    await user.click(screen.getByRole("button", { name: "Approve" }));
    expect(onDecide).toHaveBeenCalledWith("approve", "looks fine");
    await user.click(screen.getByRole("button", { name: "Deny" }));
    expect(onDecide).toHaveBeenLastCalledWith("deny", "looks fine");
  });

  it("confirms a rollback by naming the checkpoint, with the safe choice focused", async () => {
    const user = userEvent.setup();
    const { onRollback } = strip(job("completed"), { status: "completed" });
    const button = screen.getByRole("button", { name: "Roll back to step-000002" });
    await user.selectOptions(screen.getByRole("combobox", { name: "Checkpoint" }), "step-000001");
    await user.click(screen.getByRole("button", { name: "Roll back to step-000001" }));
    const dialog = screen.getByRole("alertdialog", { name: "Roll back to checkpoint step-000001?" });
    expect(dialog).toHaveTextContent("The run returns to step-000001");
    expect(screen.getByRole("button", { name: "Keep the run as it is" })).toHaveFocus();
    expect(onRollback).not.toHaveBeenCalled();
    await user.click(screen.getByLabelText(/Continue training from step-000001/));
    const confirm = screen.getAllByRole("button", { name: "Roll back to step-000001" }).find((b) => dialog.contains(b));
    await user.click(confirm as HTMLElement);
    expect(onRollback).toHaveBeenCalledWith("step-000001", true);
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(button).toBeInTheDocument();
  });

  it("says that a live run pauses first, and when a rollback is not possible", async () => {
    const user = userEvent.setup();
    strip(job("running"), { status: "running" });
    await user.click(screen.getByRole("button", { name: /Roll back to/ }));
    expect(screen.getByRole("alertdialog")).toHaveTextContent("The run is paused first");
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("alertdialog")).toBeNull();
  });

  it("offers the newest checkpoint as it arrives, until one is picked", async () => {
    const props = { job: job("running"), snapshot: emptySnapshot("run-1"), onDecide: vi.fn(), onRollback: vi.fn() };
    const { rerender } = render(<CockpitStrip {...props} checkpoints={["step-000001"]} />);
    rerender(<CockpitStrip {...props} checkpoints={["step-000001", "step-000002"]} />);
    expect(screen.getByRole("button", { name: "Roll back to step-000002" })).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Checkpoint" }), "step-000001");
    rerender(<CockpitStrip {...props} checkpoints={["step-000001", "step-000002", "step-000003"]} />);
    expect(screen.getByRole("button", { name: "Roll back to step-000001" })).toBeInTheDocument();
  });

  it("disables the rollback before the run exists or without a checkpoint", () => {
    strip(job("queued", { run_id: null }), {}, []);
    expect(screen.getByRole("button", { name: /Roll back/ })).toBeDisabled();
    expect(screen.getByText("the run has not started yet")).toBeInTheDocument();
  });
});
