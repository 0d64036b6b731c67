"""How a job ended, decided from facts: the exit code, the run's manifest, a stop request.

Pure functions, so every combination is a row in a table-driven test. The run folder's
manifest is the source of truth; the exit code and stderr only explain what the manifest
cannot (a process that died before or without writing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaler_wizard.server.store import JobStatus, StopRequest

# Manifest statuses a process leaves behind when it ends on its own terms.
SETTLED: dict[str, JobStatus] = {
    "completed": "completed",
    "paused": "paused",
    "failed": "failed",
    "aborted": "aborted",
    "rolled_back": "rolled_back",
}
PAUSED_EXIT_CODE = 3  # `scaler-wizard grow` after a checkpoint-and-pause


@dataclass(frozen=True)
class Outcome:
    status: JobStatus
    reason: str | None = None


def settle(
    exit_code: int | None,
    manifest: dict[str, Any] | None,
    stop: StopRequest | None,
    stderr: str,
    checkpoint: str | None,
) -> Outcome:
    """The job's final state once its process has ended (`exit_code` None: not our child).

    `manifest` is the one this attempt wrote, or None: a resumed run's older manifest says how
    the previous attempt ended, not this one.
    """
    code = "unknown" if exit_code is None else str(exit_code)
    if manifest is None:
        if stop == "pause" and checkpoint is not None:
            return Outcome(
                "paused",
                f"stopped on request before the run started; resume continues from {checkpoint}",
            )
        if stop is not None:
            return Outcome("aborted", "stopped on request before the run started")
        why = last_error(stderr) or f"the process exited with code {code}"
        return Outcome("failed", f"the run did not start: {why}")
    status = str(manifest.get("status", "unknown"))
    if status in SETTLED:
        return _settled(SETTLED[status], manifest, stop)
    # The process ended while the manifest still says running/awaiting_approval: it was killed.
    if stop is not None and checkpoint is not None and stop == "pause":
        return Outcome(
            "paused",
            f"stopped on request outside training; resume continues from {checkpoint}",
        )
    if stop is not None:
        kept = f"; latest checkpoint {checkpoint}" if checkpoint else ", before any checkpoint"
        return Outcome("aborted", f"stopped on request (exit code {code}){kept}")
    why = last_error(stderr) or "no error message"
    return Outcome(
        "failed", f"the process ended (exit code {code}) while the run was '{status}': {why}"
    )


def settle_unwatched(
    manifest: dict[str, Any] | None,
    pid: int | None,
    checkpoint: str | None,
    stop: StopRequest | None = None,
) -> Outcome:
    """The state of a job whose process ended while no service was watching it."""
    if manifest is not None and str(manifest.get("status")) in SETTLED:
        return _settled(SETTLED[str(manifest["status"])], manifest, stop)
    who = f"process {pid}" if pid is not None else "the job's process"
    resume = f"; resume continues from {checkpoint}" if checkpoint else "; no checkpoint to resume"
    if manifest is None:
        return Outcome(
            "lost", f"{who} ended while the service was not running, before its run started{resume}"
        )
    return Outcome(
        "lost",
        f"{who} ended while the service was not running and left the run "
        f"'{manifest.get('status')}'{resume}",
    )


def last_error(stderr: str) -> str:
    """The CLI's `error: ...` message (possibly several lines), else the last line written."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("error:")]
    if starts:
        return "\n".join(lines[starts[-1] :])[len("error:") :].strip()[:2000]
    return lines[-1][:2000] if lines else ""


def _settled(status: JobStatus, manifest: dict[str, Any], stop: StopRequest | None) -> Outcome:
    if status == "completed":
        return Outcome("completed")
    if status == "paused":
        at = f"at step {manifest.get('paused_at_step', '?')}"
        if stop == "abort":
            return Outcome(
                "aborted", f"aborted on request; training stopped {at} (checkpoint kept)"
            )
        because = manifest.get("paused_because")
        return Outcome("paused", f"paused {at}" + (f": {because}" if because else ""))
    if status == "rolled_back":
        return Outcome("rolled_back", "rolled back to an earlier checkpoint")
    phase = manifest.get("failed_phase")
    error = str(manifest.get("error", "no error recorded"))
    return Outcome(status, f"{phase}: {error}" if phase else error)
