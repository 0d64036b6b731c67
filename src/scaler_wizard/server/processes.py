"""Child processes of the service: how they are started, recognised again, and signalled.

A pid alone is not an identity (the kernel reuses them), so each job also records its
process's start time from /proc; a process is "ours" only when both match.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from scaler_wizard.server.settings import Settings

CLI_MODULE = "scaler_wizard.cli"


def child_env(settings: Settings) -> dict[str, str]:
    """The service's environment, pointed at its workspace, with plain, unwrapped output."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(
        SCALER_WIZARD_HOME=str(settings.workspace),
        NO_COLOR="1",
        TERM="dumb",
        COLUMNS="1000",  # Rich wraps at the terminal width; error lines must stay whole
        PYTHONUNBUFFERED="1",
    )
    return env


def cli_command(settings: Settings, *args: str) -> list[str]:
    return [settings.python, "-m", CLI_MODULE, *args]


def spawn(settings: Settings, command: list[str], log_dir: Path) -> subprocess.Popen[bytes]:
    """Start a job detached from the service's session: it outlives a service restart and
    does not receive the Ctrl-C meant for the service."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "stdout.log").open("ab") as out, (log_dir / "stderr.log").open("ab") as err:
        return subprocess.Popen(
            command,
            cwd=settings.workspace,
            env=child_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = stat[stat.rfind(")") + 2 :].split()
    return int(rest[19]) if len(rest) > 19 else None


def is_alive(pid: int, started: int | None) -> bool:
    """True when `pid` runs and is the same process that was recorded (not a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return _exists(pid)  # no /proc here: the pid is all there is to go on
    rest = stat[stat.rfind(")") + 2 :].split()
    if not rest or rest[0] in ("Z", "X"):  # exited, waiting to be reaped
        return False
    return started is None or (len(rest) > 19 and int(rest[19]) == started)


def send_signal(pid: int, started: int | None, signum: signal.Signals) -> bool:
    """Signal the recorded process; False when it is gone (nothing else is ever signalled)."""
    if not is_alive(pid, started):
        return False
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tail(path: Path, max_bytes: int = 4000) -> str:
    """The end of a log file, decoded leniently; empty when there is none."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - max_bytes))
            return file.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def run_cli(
    settings: Settings, args: list[str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """A short CLI call (plan, rollback) in a child process, output captured as text."""
    return subprocess.run(
        cli_command(settings, *args),
        cwd=settings.workspace,
        env=child_env(settings),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
