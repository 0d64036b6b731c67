"""What a person can do to a job: submit, cancel, abort, approve, deny, roll back, resume.

Each action checks the job's state first and refuses with 409 and the reason when it does not
apply; state changes are conditional updates, so a request racing the runner never
overwrites a newer state.
"""

from __future__ import annotations

import secrets
import subprocess

from scaler_wizard.artifacts.run_folder import RunFolder
from scaler_wizard.pipeline.gates import Decision, NotAwaitingApproval, decide
from scaler_wizard.recipe import Recipe
from scaler_wizard.server.errors import ApiError
from scaler_wizard.server.outcome import last_error
from scaler_wizard.server.processes import run_cli
from scaler_wizard.server.recipes import recipe_yaml
from scaler_wizard.server.runner import JobRunner
from scaler_wizard.server.runs import RunNotFoundError, run_path
from scaler_wizard.server.settings import Settings
from scaler_wizard.server.store import LIVE, JobRecord, JobStatus, Store, now

ROLLBACK_TIMEOUT_S = 300.0
RESUMABLE: tuple[JobStatus, ...] = ("paused", "failed", "lost", "rolled_back")
AT_REST: tuple[JobStatus, ...] = (*RESUMABLE, "completed")


class Actions:
    def __init__(self, settings: Settings, store: Store, runner: JobRunner) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner

    def job(self, job_id: str) -> JobRecord:
        job = self.store.get_job(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id}")
        return job

    def submit(self, recipe: Recipe) -> JobRecord:
        """Queue a new run of `recipe`; its YAML is kept beside the job's logs."""
        job_id = f"job-{secrets.token_hex(6)}"
        folder = self.runner.log_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "recipe.yaml"
        path.write_text(recipe_yaml(recipe), encoding="utf-8")
        return self.store.add_job(job_id, recipe.name, str(path))

    def cancel(self, job_id: str) -> tuple[JobRecord, str]:
        """Queued: dropped. Running: SIGTERM, so training checkpoints and the run pauses."""
        job = self.job(job_id)
        if job.status == "queued":
            return self._drop_queued(job, "cancelled before it started")
        if job.status not in LIVE:
            raise ApiError(409, f"job {job_id} is {job.status}; only a queued or live job stops")
        self.runner.request_stop(job, "pause")
        return self.job(job_id), "stop requested: the run checkpoints and pauses"

    def abort(self, job_id: str, note: str) -> tuple[JobRecord, str]:
        """Stop for good: a gate is denied, a live run stops, a resting job is closed."""
        job = self.job(job_id)
        if job.status == "queued":
            return self._drop_queued(job, "aborted before it started")
        if job.status == "awaiting_approval":
            self._decide(job, "deny", note or "aborted")
            self.store.update_job(job.id, when=LIVE, stop_requested="abort")
            return self.job(job_id), "denied at the gate: the run stops without exporting"
        if job.status == "running":
            self.runner.request_stop(job, "abort")
            return self.job(job_id), "stop requested: the run checkpoints and the job ends"
        if job.status in RESUMABLE:
            closed = self.store.update_job(
                job.id, when=RESUMABLE, status="aborted", reason=f"aborted: {note or 'on request'}"
            )
            if closed is not None:
                return closed, "the job is closed; its run folder is kept"
        raise ApiError(409, f"job {job_id} is {self.job(job_id).status}; nothing to abort")

    def approve(self, job_id: str, note: str) -> tuple[JobRecord, str]:
        job = self.job(job_id)
        point = self._decide(job, "approve", note)
        return self.job(job_id), f"approved '{point}'"

    def deny(self, job_id: str, note: str) -> tuple[JobRecord, str]:
        job = self.job(job_id)
        point = self._decide(job, "deny", note)
        return self.job(job_id), f"denied '{point}'"

    def rollback(self, job_id: str, to: str | None, resume: bool) -> tuple[JobRecord, str]:
        """`scaler-wizard rollback` in a child process, for a job whose process has ended."""
        job = self.job(job_id)
        if job.status not in AT_REST or job.run_id is None:
            raise ApiError(409, f"job {job_id} is {job.status}; roll back a job that has ended")
        args = ["rollback", job.run_id, *(["--to", to] if to else [])]
        try:
            done = run_cli(self.settings, args, ROLLBACK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ApiError(504, "rollback took too long") from None
        if done.returncode != 0:
            raise ApiError(409, last_error(done.stderr) or f"rollback exited {done.returncode}")
        reason = done.stdout.strip().splitlines()[0] if done.stdout.strip() else "rolled back"
        self.store.update_job(job.id, when=AT_REST, status="rolled_back", reason=reason)
        if resume:
            return self.resume(job_id)
        return self.job(job_id), reason

    def resume(self, job_id: str) -> tuple[JobRecord, str]:
        """Queue the job again; it continues its run from the latest checkpoint."""
        job = self.job(job_id)
        if job.run_id is None:
            raise ApiError(409, f"job {job_id} has no run to resume")
        queued = self.store.update_job(
            job.id,
            when=RESUMABLE,
            status="queued",
            resume=True,
            stop_requested=None,
            reason=None,
            exit_code=None,
            finished=None,
        )
        if queued is None:
            raise ApiError(409, f"job {job_id} is {job.status}; resume a paused or failed job")
        return queued, "queued to continue from the latest checkpoint"

    def _drop_queued(self, job: JobRecord, reason: str) -> tuple[JobRecord, str]:
        dropped = self.store.update_job(
            job.id, when=("queued",), status="aborted", reason=reason, finished=now()
        )
        if dropped is None:  # the runner started it a moment ago: stop it like a live job
            self.runner.request_stop(self.job(job.id), "abort")
            return self.job(job.id), "stop requested: the job had just started"
        return dropped, reason

    def _decide(self, job: JobRecord, decision: Decision, note: str) -> str:
        # The run's approval.json is the truth; the job's status may lag it by one poll.
        if job.status not in LIVE or job.run_id is None:
            raise ApiError(409, f"job {job.id} is {job.status}, not waiting for approval")
        try:
            folder = run_path(self.settings, job.run_id)
            return decide(RunFolder(folder), decision, note)
        except (RunNotFoundError, NotAwaitingApproval) as exc:
            raise ApiError(409, str(exc)) from None
