import { useEffect, useRef, useState } from "react";

interface Props {
  checkpoints: string[];
  /** Why a rollback cannot happen now (null: it can). */
  unavailable: string | null;
  /** A live run is paused first (it saves a checkpoint), then rolled back. */
  live: boolean;
  onRollback: (to: string, resume: boolean) => Promise<void>;
}

/** The dominant control: return the run to a checkpoint, after a confirmation that names it. */
export function RollbackControl({ checkpoints, unavailable, live, onRollback }: Props) {
  const newest = checkpoints.at(-1) ?? "";
  // Follows the newest checkpoint until a person picks one (and that one still exists).
  const [picked, setPicked] = useState<string | null>(null);
  const target = picked !== null && checkpoints.includes(picked) ? picked : newest;
  const [confirming, setConfirming] = useState(false);
  const [resume, setResume] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onRollback(target, resume);
      setConfirming(false);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const disabled = unavailable !== null || !target || busy;
  return (
    <div className="rollback">
      <button type="button" className="rollback-button" disabled={disabled} onClick={() => setConfirming(true)} aria-describedby="rollback-why">
        {busy ? (
          "Rolling back…"
        ) : (
          <>
            <span className="rollback-verb">Roll back</span> {target && <span className="rollback-target">to {target}</span>}
          </>
        )}
      </button>
      <p id="rollback-why" className="hint">
        {unavailable ?? (checkpoints.length ? `${checkpoints.length} checkpoint(s) to return to` : "no checkpoint saved yet")}
      </p>
      {checkpoints.length > 1 && (
        <label className="row small">
          Checkpoint
          <select value={target} onChange={(e) => setPicked(e.target.value)}>
            {checkpoints.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      )}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      {confirming && (
        <ConfirmRollback target={target} live={live} resume={resume} busy={busy} onResume={setResume} onConfirm={confirm} onCancel={() => setConfirming(false)} />
      )}
    </div>
  );
}

interface ConfirmProps {
  target: string;
  live: boolean;
  resume: boolean;
  busy: boolean;
  onResume: (resume: boolean) => void;
  onConfirm: () => void;
  onCancel: () => void;
}

function ConfirmRollback({ target, live, resume, busy, onResume, onConfirm, onCancel }: ConfirmProps) {
  const keep = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    keep.current?.focus(); // the safe choice has the focus
  }, []);
  return (
    <div className="modal-backdrop" onKeyDown={(e) => e.key === "Escape" && onCancel()}>
      <div role="alertdialog" aria-modal="true" aria-labelledby="rollback-title" aria-describedby="rollback-body" className="modal">
        <h2 id="rollback-title">Roll back to checkpoint {target}?</h2>
        <div id="rollback-body">
          {live && <p>The run is paused first: it saves where it is and stops.</p>}
          <p>
            The run returns to <strong>{target}</strong>. Later checkpoints and any exports are set aside in the run's{" "}
            <code>abandoned/</code> folder (nothing is deleted).
          </p>
        </div>
        <label className="row small resume-choice">
          <input type="checkbox" checked={resume} onChange={(e) => onResume(e.target.checked)} /> Continue training from {target} at once
        </label>
        <div className="row">
          <button type="button" className="rollback-button confirm" onClick={onConfirm} disabled={busy}>
            {busy ? "Rolling back…" : `Roll back to ${target}`}
          </button>
          <button type="button" ref={keep} onClick={onCancel} disabled={busy}>
            Keep the run as it is
          </button>
        </div>
      </div>
    </div>
  );
}
