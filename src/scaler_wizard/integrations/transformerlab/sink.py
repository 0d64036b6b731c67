"""A telemetry sink that mirrors a run into a TransformerLab job: progress, metrics, logs and
checkpoints. The bus swallows sink errors, so a TransformerLab hiccup never stops training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scaler_wizard.telemetry.events import Event

# Percent range of each phase. Training dominates wall time, so it gets most of the bar; the
# two evaluations are told apart by whether training has started.
SPANS: dict[str, tuple[int, int]] = {
    "plan": (0, 1),
    "load": (1, 4),
    "data": (4, 8),
    "evaluate-base": (8, 18),
    "context": (18, 20),
    "grow": (20, 22),
    "train": (22, 85),
    "evaluate-grown": (85, 94),
    "contracts": (94, 95),
    "export": (95, 99),
}
STEP_METRICS = ("loss", "grad_norm", "learning_rate", "tokens_per_s", "memory_gib", "eta_s")


class LabSink:
    """Forwards events to the `lab` facade. 100% is left to `lab.finish`."""

    def __init__(self, lab: Any, save_checkpoint: Callable[[Path], None]) -> None:
        self.lab = lab
        self.save_checkpoint = save_checkpoint
        self.percent = 0
        self.span = SPANS["plan"]
        self.trained = False

    def handle(self, event: Event) -> None:
        data = event.data
        kind = event.type
        if kind == "PhaseStarted":
            self.span = SPANS[self._span_name(data["phase"])]
            note = f" — {data['description']}" if data.get("description") else ""
            self.lab.log(f"▶ {data['phase']}{note}")
            self._report(self.span[0])
        elif kind == "PhaseFinished":
            summary = _summary(data.get("summary", {}))
            self.lab.log(f"✓ {data['phase']} {data['duration_s']:.1f}s {summary}".rstrip())
            self._report(self.span[1])
        elif kind == "ProgressUpdated" and data["total"]:
            low, high = self.span
            self._report(low + (high - low) * data["done"] // data["total"])
        elif kind == "StepLogged":
            metrics = {k: float(data[k]) for k in STEP_METRICS}
            self._report(self.percent, metrics, event.step, force=True)
            self.lab.log(
                f"step {event.step} loss {data['loss']:.4f} · {data['tokens_per_s']:.0f} tok/s"
                f" · lr {data['learning_rate']:.2e}"
            )
        elif kind == "EvalCompleted":
            model = data["model"]
            metrics = {f"{model}/{k}": float(v) for k, v in _numbers(data["metrics"]).items()}
            self._report(self.percent, metrics, event.step, force=True)
            self.lab.log(f"evaluated {model}: {_summary(data['metrics'])}")
        elif kind == "CheckpointSaved":
            self.save_checkpoint(Path(data["path"]))
            self.lab.log(f"checkpoint saved at step {event.step}")
        elif kind in ("ContractChecked", "ArtifactExported", "RunPaused", "RunFailed"):
            self.lab.log(f"{kind}: {_summary(data)}")

    def close(self) -> None:
        """Nothing is buffered: every call to `lab` writes through."""

    def _span_name(self, phase: str) -> str:
        if phase == "train":
            self.trained = True
        if phase == "evaluate":
            return "evaluate-grown" if self.trained else "evaluate-base"
        return phase

    def _report(
        self,
        percent: int,
        metrics: dict[str, float] | None = None,
        step: int | None = None,
        force: bool = False,
    ) -> None:
        # Each call rewrites the job record and appends a metrics row: skip no-op updates.
        percent = max(self.percent, min(int(percent), 99))
        if percent == self.percent and not force:
            return
        self.percent = percent
        self.lab.update_progress(percent, metrics=metrics, step=step)


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, dict):  # e.g. passkey accuracy per length
            flat.update({f"{key}@{k}": v for k, v in _numbers(value).items()})
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[key] = float(value)
    return flat


def _summary(values: dict[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.4g}")
        elif not isinstance(value, dict | list):
            parts.append(f"{key}={value}")
    return " ".join(parts)
