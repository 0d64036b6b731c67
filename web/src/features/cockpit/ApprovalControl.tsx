import { useState } from "react";
import type { PendingApproval } from "@/lib/cockpit";
import { formatDuration } from "@/lib/format";

interface Props {
  approval: PendingApproval;
  onDecide: (decision: "approve" | "deny", note: string) => Promise<void>;
}

/** A pending approval gate: what waits, until when, and Approve / Deny with an optional note. */
export function ApprovalControl({ approval, onDecide }: Props) {
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const left = (Date.parse(approval.deadline) - Date.now()) / 1000;
  const decide = async (decision: "approve" | "deny") => {
    setBusy(true);
    try {
      await onDecide(decision, note);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="approval" role="group" aria-labelledby="approval-title">
      <p id="approval-title">
        <strong>Waiting for your decision before {approval.point}.</strong> No decision in {formatDuration(left)} counts as a denial.
      </p>
      <label htmlFor="approval-note">Note (kept in the run's manifest)</label>
      <input id="approval-note" type="text" value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} />
      <div className="row">
        <button type="button" className="approve" onClick={() => decide("approve")} disabled={busy}>
          Approve
        </button>
        <button type="button" className="deny" onClick={() => decide("deny")} disabled={busy}>
          Deny
        </button>
      </div>
    </div>
  );
}
