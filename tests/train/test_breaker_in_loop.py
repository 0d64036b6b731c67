"""Fault injection: a NaN or a loss spike trips the breaker, the run rolls back and ends healthy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from event_helpers import Collect
from fault_injection import inject
from scaler_wizard.data import PackedRow
from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.lora import LoraOptions, apply_lora
from scaler_wizard.recipe.spec import SafetySpec, TrainSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.train.loop import TrainingAborted, TrainingPaused, train_model

CONTEXT = GrowthContext(train_tokens=1000, memory_gib=8.0, has_cuda=False)
SPEC = TrainSpec(
    steps=40,
    batch_size=2,
    learning_rate=5e-3,
    warmup_steps=2,
    log_every=1,
    checkpoint_every=2,
    max_grad_norm=1.0,
)


def rows(n: int = 6, length: int = 16) -> list[PackedRow]:
    out = []
    for i in range(n):
        ids = [(i * 7 + j * 3) % 50 + 3 for j in range(length)]
        out.append(PackedRow(ids, list(ids), list(range(length)), [length]))
    return out


def run(tiny_model: Any, tmp_path: Path, safety: SafetySpec) -> tuple[Any, Collect, Any]:
    model, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    sink = Collect()
    result = train_model(model, rows(), SPEC, EventBus("t", [sink]), tmp_path, safety=safety)
    return model, sink, result


def finite(model: Any) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def test_nan_rolls_back_to_a_healthy_checkpoint_and_finishes(
    tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, {15}, float("nan"))
    model, sink, result = run(tiny_model, tmp_path, SafetySpec(preset="standard"))
    tripped = sink.of("BreakerTripped")
    assert len(tripped) == 1 and tripped[0].data["trigger"] == "nan_inf"
    assert tripped[0].step == 15  # at once, even though it is a single value
    assert tripped[0].data["action"] == "rollback"
    assert finite(model) and result.losses[-1][0] == SPEC.steps
    after = [e for e in sink.events if e.seq > tripped[0].seq]
    assert all(e.segment == 1 for e in after)  # a new segment after the rollback
    assert min(e.step for e in after if e.type == "StepLogged") <= 14  # steps went back
    assert not (tmp_path / "step-000016").exists() or finite(model)


def test_loss_spike_trips_within_bounded_steps_and_recovers(
    tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spike = {24, 25, 26, 27, 28}
    inject(monkeypatch, spike, 30.0)
    safety = SafetySpec(preset="standard", window=8, warmup_steps=4)
    model, sink, result = run(tiny_model, tmp_path, safety)
    tripped = sink.of("BreakerTripped")
    assert tripped and tripped[0].data["trigger"] == "loss_spike"
    assert min(spike) <= tripped[0].step < min(spike) + 3 + 1  # consecutive_spikes = 3
    assert tripped[0].data["numbers"]["z"] > 6.0
    assert sink.of("BreakerProbationStarted")
    assert finite(model) and result.losses[-1][0] == SPEC.steps
    assert result.losses[-1][1] < 2 * result.losses[0][1]  # healthy again at the end


@pytest.mark.parametrize(
    ("action", "error"), [("pause", TrainingPaused), ("abort", TrainingAborted)]
)
def test_pause_and_abort_actions_stop_the_loop(
    tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str, error: type
) -> None:
    inject(monkeypatch, {10}, float("nan"))
    with pytest.raises(error, match=r"NaN|nan|not a number|infinite"):
        run(tiny_model, tmp_path, SafetySpec(preset="standard", on_nan=action))
