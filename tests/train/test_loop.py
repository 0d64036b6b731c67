"""The training loop: learns, normalises loss per label token, checkpoints atomically."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import torch

from event_helpers import Collect
from scaler_wizard.data import PackedRow
from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.lora import LoraOptions, apply_lora
from scaler_wizard.recipe.spec import TrainSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.train import train_model
from scaler_wizard.train.checkpoint import latest_checkpoint
from scaler_wizard.train.loop import accumulate_gradients
from scaler_wizard.train.schedule import lr_multiplier

CONTEXT = GrowthContext(train_tokens=1000, memory_gib=8.0, has_cuda=False)


def rows(n: int, length: int = 16, labelled: int | None = None) -> list[PackedRow]:
    out = []
    for i in range(n):
        ids = [(i * 7 + j * 3) % 50 + 3 for j in range(length)]
        labels = list(ids) if labelled is None else [-100] * (length - labelled) + ids[-labelled:]
        out.append(PackedRow(ids, labels, list(range(length)), [length]))
    return out


def test_loss_goes_down_and_events_are_logged(tiny_model: Any, tmp_path: Path) -> None:
    model, _ = apply_lora(tiny_model, LoraOptions(r=8, dropout=0.0), CONTEXT)
    sink = Collect()
    spec = TrainSpec(
        steps=30, batch_size=2, learning_rate=1e-2, warmup_steps=2, log_every=5, checkpoint_every=10
    )
    result = train_model(model, rows(4), spec, EventBus("t", [sink]), tmp_path)
    assert result.losses[-1][1] < result.losses[0][1] * 0.9
    logged = [e for e in sink.events if e.type == "StepLogged"]
    assert [e.step for e in logged] == [5, 10, 15, 20, 25, 30]
    assert all(e.data["tokens_per_s"] > 0 and e.data["memory_gib"] > 0 for e in logged)
    seqs = [e.seq for e in sink.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.name == "step-000020"
    assert (checkpoint / "trainable.safetensors").is_file() and (checkpoint / "state.pt").is_file()
    assert not list(tmp_path.glob(".*partial"))


def test_accumulation_weighs_every_label_token_equally(tiny_model: Any) -> None:
    """Two micro-batches of one row give the gradient of one batch of two rows."""
    from scaler_wizard.data import collate_rows

    model, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.01)
    data = rows(2)
    data[1] = PackedRow(data[1].input_ids, [-100] * 12 + data[1].labels[12:], data[1].position_ids)

    def grads(micro: list[dict[str, Any]], backward: Any) -> dict[str, torch.Tensor]:
        model.zero_grad()
        accumulate_gradients(model, micro, 1024, backward)
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    def plain(loss: torch.Tensor) -> None:
        loss.backward()

    whole = grads([collate_rows(data)], plain)
    split = grads([collate_rows(data[:1]), collate_rows(data[1:])], plain)
    for name, value in whole.items():
        assert torch.allclose(value, split[name], atol=1e-7), name
    # The naive alternative (mean per micro-batch, then averaged) really is different here.
    tokens = [int((collate_rows([r])["labels"][:, 1:] != -100).sum()) for r in data]
    scale = iter([sum(tokens) / (2 * t) for t in tokens])

    def naive(loss: torch.Tensor) -> None:
        (loss * next(scale)).backward()

    naive_grads = grads([collate_rows(data[:1]), collate_rows(data[1:])], naive)
    assert any(not torch.allclose(v, naive_grads[n], atol=1e-7) for n, v in whole.items())


def test_schedule_warms_up_then_decays() -> None:
    values = [lr_multiplier(s, 4, 20) for s in range(20)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in itertools.pairwise(values[3:]))
    assert abs(values[-1] - 0.1) < 0.02


def test_strategies_can_ask_for_lr_groups_and_step_hooks(tiny_model: Any, tmp_path: Path) -> None:
    from scaler_wizard.growth import TrainingNeeds
    from scaler_wizard.train.loop import param_groups

    model, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    groups = param_groups(model, 1e-3, {"lora_B": 16.0})
    assert sorted(g["lr"] for g in groups) == [1e-3, 16e-3]
    assert all(
        "lora_B" in n
        for n, p in model.named_parameters()
        if any(p is q for q in next(g for g in groups if g["lr"] == 16e-3)["params"])
    )
    seen: list[int] = []
    needs = TrainingNeeds(step_hooks=[seen.append], lr_multipliers={"lora_B": 16.0})
    train_model(model, rows(2), TrainSpec(steps=3, batch_size=1), EventBus("t"), tmp_path, needs)
    assert seen == [1, 2, 3]


def test_token_budget_micro_batches_give_the_same_training(tiny_model: Any, tmp_path: Path) -> None:
    """train.micro_batch_tokens re-cuts each step into smaller passes: same weights at the end."""
    import copy

    from scaler_wizard.data import pack_examples
    from scaler_wizard.data.tokenize import TokenizedExample

    lora, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    examples = [
        TokenizedExample(
            [(i * 5 + j) % 40 + 3 for j in range(n)], [(i * 5 + j) % 40 + 3 for j in range(n)]
        )
        for i, n in enumerate([9, 4, 13, 6, 7, 11, 3, 8])
    ]
    data = pack_examples(examples, 24)
    spec = TrainSpec(steps=4, batch_size=2, learning_rate=1e-2, warmup_steps=0, log_every=1)
    whole, split = copy.deepcopy(lora), copy.deepcopy(lora)
    first = train_model(whole, data, spec, EventBus("a", []), tmp_path / "a")
    budget = spec.model_copy(update={"micro_batch_tokens": 16})
    passes: list[int] = []
    split.get_base_model().model.register_forward_hook(
        lambda _, args, kwargs, out: passes.append(kwargs["input_ids"].numel()), with_kwargs=True
    )
    second = train_model(split, data, budget, EventBus("b", []), tmp_path / "b")
    assert len(passes) > spec.steps and max(passes) <= 16  # really cut into smaller passes
    assert [round(v, 5) for _, v in first.losses] == [round(v, 5) for _, v in second.losses]
    for (name, a), b in zip(whole.named_parameters(), split.parameters(), strict=True):
        if a.requires_grad:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_parameter_offload_is_refused_under_a_zero2_launch(
    tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ZeRO-3 recipe offloading parameters, launched with an accelerate config of stage 2:
    refused with what to change, before DeepSpeed starts."""
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "2")
    lora, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    spec = TrainSpec(steps=1, batch_size=1, parallel="zero3", offload="parameters")
    with pytest.raises(ValueError, match="needs ZeRO-3, and this launch runs zero2"):
        train_model(lora, rows(2), spec, EventBus("p", []), tmp_path)


def test_token_budget_micro_batches_refuse_prefix_tuning(tiny_model: Any, tmp_path: Path) -> None:
    from peft import PrefixTuningConfig, get_peft_model

    model = get_peft_model(
        tiny_model, PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)
    )
    spec = TrainSpec(steps=1, batch_size=1, micro_batch_tokens=16)
    with pytest.raises(ValueError, match="micro_batch_tokens"):
        train_model(model, rows(2), spec, EventBus("p", []), tmp_path)
