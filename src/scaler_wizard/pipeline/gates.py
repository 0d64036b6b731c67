"""Human approval gates: the run waits at a named point until a person decides, or time runs out.

The request and the decision live in `approval.json` in the run folder, so any process can
decide: `scaler-wizard approve RUN` / `deny RUN`, the web app, or a script. No decision before
the recipe's timeout counts as a denial.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

from scaler_wizard.artifacts.run_folder import RunFolder, write_json_atomic
from scaler_wizard.recipe.spec import GateSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import ApprovalDecided, ApprovalRequested

APPROVAL_FILE = "approval.json"
Decision = Literal["approve", "deny"]


class ApprovalDenied(RuntimeError):  # noqa: N818 - a decision, named for what happened
    """A person (or the timeout) said no; the run stops cleanly without exporting."""


class NotAwaitingApproval(ValueError):  # noqa: N818 - says what is wrong with the request
    """`approve`/`deny` for a run that is not waiting at a gate."""


def await_approval(
    run: RunFolder,
    manifest: dict[str, Any],
    bus: EventBus,
    point: str,
    spec: GateSpec,
    poll_s: float = 0.2,
) -> None:
    """Block until approved; raise ApprovalDenied on a denial or the timeout."""
    path = run.path / APPROVAL_FILE
    write_json_atomic(path, {"point": point, "requested": _now(), "decision": None})
    manifest.update(status="awaiting_approval", awaiting=point)
    run.write_manifest(manifest)
    bus.emit(ApprovalRequested(point=point, timeout_s=spec.timeout_s))
    deadline = time.monotonic() + spec.timeout_s
    decision: Decision = "deny"
    by, note = "timeout", f"no decision within {spec.timeout_s:g} s"
    while time.monotonic() < deadline:
        data = json.loads(path.read_text())
        if data.get("decision") in ("approve", "deny"):
            decision, by, note = data["decision"], "user", str(data.get("note", ""))
            break
        time.sleep(poll_s)
    bus.emit(ApprovalDecided(point=point, decision=decision, by=by, note=note))
    manifest.pop("awaiting", None)
    manifest["status"] = "running"
    record = {"point": point, "decision": decision, "by": by, "note": note, "time": _now()}
    manifest.setdefault("approvals", []).append(record)
    run.write_manifest(manifest)
    path.unlink(missing_ok=True)
    if decision == "deny":
        raise ApprovalDenied(f"not approved at '{point}' ({by}{': ' + note if note else ''})")


def decide(run: RunFolder, decision: Decision, note: str = "") -> str:
    """Record a decision for the run's pending gate; returns the gate's point."""
    path = run.path / APPROVAL_FILE
    try:
        pending = json.loads(path.read_text())
    except (OSError, ValueError):
        raise NotAwaitingApproval(f"run {run.run_id} is not waiting for approval") from None
    if pending.get("decision") is not None:
        raise NotAwaitingApproval(f"run {run.run_id} already has a decision: {pending['decision']}")
    write_json_atomic(path, {**pending, "decision": decision, "note": note, "decided": _now()})
    return str(pending["point"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
