"""Rich console output: one line per phase, live progress bars with ETA and tokens/s."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from scaler_wizard.telemetry.events import Event


class ConsoleSink:
    name = "console"

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def handle(self, event: Event) -> None:
        data = event.data
        if event.type == "PhaseStarted":
            self._stop_progress()
            note = f" — {data['description']}" if data.get("description") else ""
            self.console.print(f"[bold cyan]▶ {data['phase']}[/]{note}")
        elif event.type == "PhaseFinished":
            self._stop_progress()
            summary = _summary(data.get("summary", {}))
            self.console.print(f"  [green]✓ {data['phase']}[/] {data['duration_s']:.1f}s {summary}")
        elif event.type == "ProgressUpdated":
            self._update(data)
        elif event.type == "StepLogged":
            self._update_train(event)
        elif event.type == "RunFailed":
            self._stop_progress()
        elif event.type == "SinkDegraded":
            self.console.print(
                f"  [yellow]⚠ telemetry sink {data['sink']}: {data['errors']} errors, "
                f"{data['dropped']} events dropped[/] [dim]{escape(data['last_error'])}[/]"
            )

    def _update(self, data: dict[str, Any]) -> None:
        progress = self._ensure_progress()
        name = data["task"]
        if name not in self._tasks:
            self._tasks[name] = progress.add_task(name, total=data["total"], stats="")
        progress.update(self._tasks[name], completed=data["done"], total=data["total"])

    def _update_train(self, event: Event) -> None:
        progress = self._ensure_progress()
        if "train" in self._tasks:
            d = event.data
            stats = (
                f"loss {d['loss']:.3f} · {d['tokens_per_s']:.0f} tok/s · "
                f"lr {d['learning_rate']:.1e}"
            )
            progress.update(self._tasks["train"], completed=event.step, stats=stats)

    def _ensure_progress(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("  {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[stats]}"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
        return self._progress

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._tasks = {}

    def close(self) -> None:
        self._stop_progress()


def _summary(summary: dict[str, Any]) -> str:
    parts = [f"{k}={_fmt(v)}" for k, v in summary.items() if not isinstance(v, dict | list)]
    return "[dim]" + " ".join(parts) + "[/]" if parts else ""


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
