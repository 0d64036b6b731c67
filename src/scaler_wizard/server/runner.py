"""The job runner: one heavy job at a time, each a `scaler-wizard grow` child process.

A thread starts the oldest queued job when nothing runs, then watches it: which run folder it
created, whether it waits for approval, and how it ended. Jobs outlive the service; at start
the runner re-attaches to those whose process is still alive and settles the others honestly.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaler_wizard.server.outcome import Outcome, settle, settle_unwatched
from scaler_wizard.server.processes import cli_command, is_alive, send_signal, spawn, start_ticks
from scaler_wizard.server.processes import tail as read_tail
from scaler_wizard.server.runs import find_new_run, latest_checkpoint, read_manifest
from scaler_wizard.server.settings import Settings
from scaler_wizard.server.store import LIVE, JobRecord, StopRequest, Store, now

log = logging.getLogger(__name__)


@dataclass
class Watched:
    """A live job: our child (`process`), or a process re-attached after a restart."""

    job_id: str
    pid: int
    ticks: int | None
    process: subprocess.Popen[bytes] | None
    signalled: bool = False  # a second SIGTERM would stop the run at once, without a checkpoint


class JobRunner:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._watched: dict[str, Watched] = {}
        self._lock = threading.Lock()  # the API thread signals jobs the runner thread watches
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.recover()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; running jobs keep running and the next service re-attaches them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def log_dir(self, job_id: str) -> Path:
        return self.settings.jobs_dir / job_id

    def recover(self) -> None:
        for job in self.store.list_jobs(*LIVE):
            job = self._claim_run(job)
            if job.pid is not None and is_alive(job.pid, job.pid_started):
                self._watched[job.id] = Watched(job.id, job.pid, job.pid_started, None)
                log.info("re-attached to job %s (pid %s)", job.id, job.pid)
                continue
            folder = self._run_folder(job)
            manifest = self._manifest(job, folder)
            checkpoint = latest_checkpoint(folder) if folder else None
            outcome = settle_unwatched(manifest, job.pid, checkpoint, job.stop_requested)
            self._finish(job.id, outcome, None)

    def request_stop(self, job: JobRecord, kind: StopRequest) -> bool:
        """Ask a live job's process to stop (SIGTERM: checkpoint and pause). The outcome is
        recorded when the process ends; False when there is no process to signal."""
        with self._lock:
            self.store.update_job(job.id, when=LIVE, stop_requested=kind)
            watched = self._watched.get(job.id)
            if watched is None or watched.signalled:
                return False
            watched.signalled = send_signal(watched.pid, watched.ticks, signal.SIGTERM)
            return watched.signalled

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # one bad poll must not stop every future job
                log.exception("job runner poll failed")
            self._stop.wait(self.settings.poll_s)

    def _tick(self) -> None:
        with self._lock:
            for watched in list(self._watched.values()):
                self._check(watched)
            if not self._watched:
                self._start_next()

    def _start_next(self) -> None:
        job = self.store.next_queued()
        if job is None:
            return
        claimed = self.store.update_job(
            job.id,
            when=("queued",),
            status="running",
            started=now(),
            stop_requested=None,
            exit_code=None,
            finished=None,
            reason=None,
        )
        if claimed is None:
            return  # cancelled in the meantime
        args = (
            ["grow", "--resume", job.run_id]
            if job.resume and job.run_id
            else ["grow", job.recipe_path]
        )
        try:
            process = spawn(
                self.settings, cli_command(self.settings, *args, "--quiet"), self.log_dir(job.id)
            )
        except OSError as exc:
            self._finish(job.id, Outcome("failed", f"could not start the job: {exc}"), None)
            return
        ticks = start_ticks(process.pid)
        self.store.update_job(job.id, pid=process.pid, pid_started=ticks)
        self._watched[job.id] = Watched(job.id, process.pid, ticks, process)
        log.info("started job %s (pid %s): %s", job.id, process.pid, " ".join(args))

    def _check(self, watched: Watched) -> None:
        job = self.store.get_job(watched.job_id)
        if job is None:
            del self._watched[watched.job_id]
            return
        if watched.process is not None:
            exit_code = watched.process.poll()
            ended = exit_code is not None
        else:
            exit_code, ended = None, not is_alive(watched.pid, watched.ticks)
        job = self._claim_run(job)
        folder = self._run_folder(job)
        manifest = self._manifest(job, folder)
        if not ended:
            waiting = manifest is not None and manifest.get("status") == "awaiting_approval"
            status = "awaiting_approval" if waiting else "running"
            if job.status != status:
                self.store.update_job(job.id, when=LIVE, status=status)
            return
        del self._watched[watched.job_id]
        stderr = read_tail(self.log_dir(job.id) / "stderr.log")
        checkpoint = latest_checkpoint(folder) if folder else None
        outcome = settle(exit_code, manifest, job.stop_requested, stderr, checkpoint)
        self._finish(job.id, outcome, exit_code)

    def _claim_run(self, job: JobRecord) -> JobRecord:
        """Record which run folder the job's process created, once it exists."""
        if job.run_id is not None or job.started is None:
            return job
        run_id = find_new_run(
            self.settings, job.recipe_name, job.started, self.store.claimed_run_ids()
        )
        if run_id is None:
            return job
        return self.store.update_job(job.id, run_id=run_id) or job

    def _run_folder(self, job: JobRecord) -> Path | None:
        if job.run_id is None:
            return None
        folder = self.settings.runs_dir / job.run_id
        return folder if folder.is_dir() else None

    def _manifest(self, job: JobRecord, folder: Path | None) -> dict[str, Any] | None:
        """The run's manifest if this attempt wrote it; a resumed run's older one says how
        the previous attempt ended, and must not be mistaken for this one's outcome."""
        if folder is None or job.started is None:
            return None
        try:
            written = (folder / "manifest.json").stat().st_mtime
        except OSError:
            return None
        if datetime.fromtimestamp(written, UTC) < datetime.fromisoformat(job.started):
            return None
        return read_manifest(folder)

    def _finish(self, job_id: str, outcome: Outcome, exit_code: int | None) -> None:
        self.store.update_job(
            job_id,
            when=LIVE,
            status=outcome.status,
            reason=outcome.reason,
            exit_code=exit_code,
            finished=now(),
        )
        log.info("job %s %s: %s", job_id, outcome.status, outcome.reason or "")
