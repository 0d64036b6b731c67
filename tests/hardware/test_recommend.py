"""The recommender: table-driven machines, from a small laptop to several large GPUs."""

from __future__ import annotations

import pytest

from scaler_wizard.hardware.probe import GpuInfo, HardwareProfile
from scaler_wizard.hardware.recommend import NothingFits, choose_template, recommend
from scaler_wizard.hardware.template_models import template_model_config
from scaler_wizard.hardware.training_memory import TrainingShape, estimate_training_memory

SMOL = template_model_config("embedded")
MISTRAL = template_model_config("mistralai/Mistral-7B-Instruct-v0.2")


def machine(
    ram: float = 24, gpus: list[float] | None = None, cc: tuple[int, int] = (8, 0)
) -> HardwareProfile:
    return HardwareProfile(
        cpu_cores=8,
        ram_gib=ram,
        gpus=[GpuInfo(name="gpu", memory_gib=m, compute_capability=cc) for m in gpus or []],
        mps=False,
        disk_free_gib=100,
    )


def advise(config: object, hardware: HardwareProfile, **kw: object) -> object:
    args: dict[str, object] = dict(batch_size=8, grad_accum_steps=1, seq_length=2048, lora_rank=16)
    return recommend(config, hardware, **{**args, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ram", "batch", "checkpointing", "seq"),
    [
        (64, 4, False, 2048),  # the largest micro-batch that fits without recompute
        (24, 2, False, 2048),
        (12, 1, False, 2048),
        (8, 1, True, 2048),  # only with checkpointing
        (5, 1, True, 1024),  # only with shorter rows too
        (2.6, 1, False, 256),  # checkpointing's fixed cost outweighs its saving on short rows
    ],
)
def test_cpu_shapes_shrink_with_ram(ram: float, batch: int, checkpointing: bool, seq: int) -> None:
    advice = advise(SMOL, machine(ram=ram))
    assert (advice.batch_size, advice.gradient_checkpointing, advice.seq_length) == (
        batch,
        checkpointing,
        seq,
    )
    assert advice.batch_size * advice.grad_accum_steps >= 8  # the effective batch is kept
    assert advice.memory.total_gib <= advice.budget_gib
    assert advice.device == "cpu" and advice.dtype == "float32"


def test_nothing_fits_says_how_much_the_smallest_plan_needs() -> None:
    with pytest.raises(NothingFits, match=r"needs \d+\.\d GiB"):
        advise(SMOL, machine(ram=1))


def test_cpu_caps_the_rank_and_says_why() -> None:
    advice = advise(SMOL, machine(ram=24), lora_rank=64)
    assert advice.lora_rank == 16
    assert any("rank 64 → 16" in r for r in advice.reasons)


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        ([80], "single"),
        ([80, 80], "ddp"),  # a full copy fits on each GPU
        ([24, 24, 24, 24], "fsdp"),  # only sharded weights fit
    ],
)
def test_several_gpus_choose_how_to_spread(gpus: list[float], expected: str) -> None:
    advice = advise(MISTRAL, machine(ram=64, gpus=gpus), lora_rank=None, seq_length=512)
    assert advice.distributed == expected
    assert advice.dtype == "bfloat16"


def test_seven_billion_on_one_small_gpu_does_not_fit() -> None:
    with pytest.raises(NothingFits, match=r"nothing fits in \d+\.\d GiB"):
        advise(MISTRAL, machine(gpus=[8]), lora_rank=None)


def test_old_gpus_train_in_float32() -> None:
    advice = advise(SMOL, machine(gpus=[16], cc=(7, 0)))
    assert advice.dtype == "float32" and advice.attn_implementation == "sdpa"


@pytest.mark.parametrize(
    ("hardware", "goal", "template"),
    [
        (machine(ram=24), "balanced", "balanced"),
        (machine(ram=1.5), "balanced", "tiny-cpu"),
        (machine(gpus=[8]), "context", "balanced"),  # TinyLlama at 4k tokens needs more
        (machine(gpus=[16]), "context", "max-context"),
        (machine(gpus=[8]), "parameters", "max-parameters"),
        (machine(gpus=[80]), "balanced", "mistral-7b-long"),
    ],
)
def test_template_follows_the_hardware_and_goal(
    hardware: HardwareProfile, goal: str, template: str
) -> None:
    assert choose_template(hardware, goal).template == template  # type: ignore[arg-type]


def test_recommended_shape_is_what_the_estimate_says_fits() -> None:
    advice = advise(SMOL, machine(ram=8))
    shape = TrainingShape(
        batch_size=advice.batch_size,
        seq_length=advice.seq_length,
        gradient_checkpointing=advice.gradient_checkpointing,
        lora_rank=advice.lora_rank,
    )
    assert estimate_training_memory(SMOL, shape).total_gib == pytest.approx(advice.memory.total_gib)
    overrides = advice.overrides()
    assert f"train.batch_size={advice.batch_size}" in overrides
