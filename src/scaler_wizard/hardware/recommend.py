"""Settings that fit this machine: persona template, batch, rank, checkpointing, context, attention.

Every choice is checked with the calibrated memory model (`training_memory`), keeps the
recipe's effective batch (micro-batch x accumulation), and says why in plain words.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any, Literal

from pydantic import BaseModel

from scaler_wizard.hardware.memory import estimate_eval_memory_gib
from scaler_wizard.hardware.probe import HardwareProfile
from scaler_wizard.hardware.template_models import template_model_config
from scaler_wizard.hardware.training_memory import (
    TrainingMemory,
    TrainingShape,
    estimate_training_memory,
)

Distributed = Literal["single", "ddp", "fsdp", "deepspeed_zero3_offload"]
Goal = Literal["balanced", "context", "parameters"]
CUDA_CONTEXT_GIB = 0.5  # the CUDA context and kernels, before any tensor
GPU_USABLE = 0.9  # allocator fragmentation
RAM_USABLE = 0.75  # the OS, the browser and the rest of the desktop keep running
MIN_SEQ = 256  # below this a context-growth run learns little
CONTEXT_MULTIPLES = (1, 2, 4, 8, 16, 32)
CPU_MAX_RANK = 16  # on a CPU each rank costs time, not memory
SMALL_GPU_MAX_RANK = 32
DEFAULT_RANK = 16  # what the memory model assumes for `r: auto` or non-LoRA growth


class NothingFits(ValueError):  # noqa: N818 - reads as the outcome it reports
    """Even the smallest sensible plan does not fit; the message says how much it needs."""


class Recommendation(BaseModel):
    device: Literal["cuda", "mps", "cpu"]
    budget_gib: float
    dtype: str
    attn_implementation: str
    batch_size: int
    grad_accum_steps: int
    lora_rank: int | None
    gradient_checkpointing: bool
    seq_length: int
    max_eval_context: int
    distributed: Distributed
    memory: TrainingMemory
    reasons: list[str]

    def overrides(self) -> list[str]:
        """`--set` items that apply this recommendation to the recipe."""
        items = [
            f"train.batch_size={self.batch_size}",
            f"train.grad_accum_steps={self.grad_accum_steps}",
            f"train.gradient_checkpointing={str(self.gradient_checkpointing).lower()}",
            f"data.seq_length={self.seq_length}",
            f"model.dtype={self.dtype}",
        ]
        return items


class TemplateChoice(BaseModel):
    template: str
    reason: str


def memory_budget(hardware: HardwareProfile) -> tuple[Literal["cuda", "mps", "cpu"], float]:
    """Where training runs and how many GiB it may use there."""
    if hardware.gpus:
        smallest = min(g.memory_gib for g in hardware.gpus)
        return "cuda", max(0.0, smallest * GPU_USABLE - CUDA_CONTEXT_GIB)
    if hardware.mps:  # unified memory, shared with the system
        return "mps", hardware.ram_gib * 0.6
    return "cpu", hardware.ram_gib * RAM_USABLE


def recommend(
    config: Any,
    hardware: HardwareProfile,
    *,
    batch_size: int,
    grad_accum_steps: int,
    seq_length: int,
    lora_rank: int | None,
    native_context: int | None = None,
) -> Recommendation:
    """Fit a recipe's training shape to `hardware`; raise NothingFits when nothing does."""
    device, budget = memory_budget(hardware)
    dtype, attention, reasons = _precision(hardware)
    effective = batch_size * grad_accum_steps
    rank = _rank(lora_rank, device, budget, reasons)
    shape, memory, distributed = _fit(config, hardware, budget, effective, seq_length, rank, dtype)
    if shape.seq_length < seq_length:
        reasons.append(
            f"rows of {seq_length} tokens do not fit even with gradient checkpointing at "
            f"batch 1; trains on {shape.seq_length}-token rows"
        )
    if shape.gradient_checkpointing:
        reasons.append(
            "gradient checkpointing on: without it the batch does not fit "
            "(costs about a third more compute, saves most activation memory)"
        )
    else:
        reasons.append("gradient checkpointing off: the activations fit, so no recompute cost")
    accum = math.ceil(effective / shape.batch_size)
    reasons.append(
        f"micro-batch {shape.batch_size} x {accum} accumulation keeps the recipe's effective "
        f"batch of {effective}: {memory.explain()} of {budget:.1f} GiB usable"
    )
    reasons += _distributed_reason(distributed, len(hardware.gpus))
    native = native_context or int(getattr(config, "max_position_embeddings", 2048))
    max_context = _max_eval_context(config, native, budget, dtype)
    reasons.append(
        f"evaluation fits up to {max_context} tokens ({max_context // native}x the native "
        f"{native}) in {budget:.1f} GiB"
    )
    return Recommendation(
        device=device,
        budget_gib=budget,
        dtype=dtype,
        attn_implementation=attention,
        batch_size=shape.batch_size,
        grad_accum_steps=accum,
        lora_rank=rank,
        gradient_checkpointing=shape.gradient_checkpointing,
        seq_length=shape.seq_length,
        max_eval_context=max_context,
        distributed=distributed,
        memory=memory,
        reasons=reasons,
    )


def choose_template(hardware: HardwareProfile, goal: Goal = "balanced") -> TemplateChoice:
    """The most ambitious persona template whose own training shape fits this machine."""
    device, budget = memory_budget(hardware)
    if device == "cpu":
        # RAM is rarely the limit on a CPU, time is: a 0.5B+ model takes days per epoch there.
        fits = _template_fits("balanced", budget)
        name = "balanced" if fits else "tiny-cpu"
        why = "no GPU: the embedded 135M model is the size a CPU trains in minutes"
        return TemplateChoice(template=name, reason=why if fits else f"{why}; RAM is tight")
    ladder = {
        "context": ["mistral-7b-long", "max-context", "balanced", "tiny-cpu"],
        "parameters": ["mistral-7b-long", "max-parameters", "balanced", "tiny-cpu"],
        "balanced": ["mistral-7b-long", "max-parameters", "balanced", "tiny-cpu"],
    }[goal]
    for name in ladder:
        if _template_fits(name, budget):
            return TemplateChoice(
                template=name,
                reason=f"the largest template for goal '{goal}' that fits {budget:.1f} GiB",
            )
    return TemplateChoice(template="tiny-cpu", reason="only the smallest template fits")


_TEMPLATE_SHAPES: dict[str, tuple[str, int, int]] = {
    # name: (model source, seq length, LoRA rank) as in the template files; a template fits
    # when it trains at micro-batch 1 with checkpointing (accumulation restores its batch)
    "tiny-cpu": ("embedded", 128, 4),
    "balanced": ("embedded", 512, 16),
    "max-parameters": ("Qwen/Qwen2.5-0.5B-Instruct", 1024, 64),
    "max-context": ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", 4096, 8),
    "mistral-7b-long": ("mistralai/Mistral-7B-Instruct-v0.2", 8192, 16),
}


def _template_fits(name: str, budget: float) -> bool:
    source, seq, rank = _TEMPLATE_SHAPES[name]
    config = template_model_config(source)
    if config is None:
        return False
    dtype = "float32" if source == "embedded" else "bfloat16"
    return smallest_training(config, seq, rank, dtype).total_gib <= budget


def smallest_training(config: Any, seq_length: int, rank: int, dtype: str) -> TrainingMemory:
    """Micro-batch 1 with or without checkpointing, whichever needs less (checkpointing has a
    fixed cost, so on short rows it can need more)."""
    shapes = [
        TrainingShape(
            batch_size=1,
            seq_length=seq_length,
            gradient_checkpointing=checkpointing,
            lora_rank=rank,
            dtype=dtype,
        )
        for checkpointing in (False, True)
    ]
    return min(
        (estimate_training_memory(config, shape) for shape in shapes), key=lambda m: m.total_gib
    )


def _precision(hardware: HardwareProfile) -> tuple[str, str, list[str]]:
    gpus = hardware.gpus
    if not gpus:
        return "float32", "sdpa", ["no CUDA GPU: float32 weights, PyTorch SDPA attention"]
    if all((g.compute_capability or (0, 0)) >= (8, 0) for g in gpus):
        flash = importlib.util.find_spec("flash_attn") is not None
        attention = "flash_attention_2" if flash else "sdpa"
        why = "bfloat16 (Ampere or newer): half the memory of float32, no loss scaling; " + (
            "FlashAttention-2 is installed" if flash else "SDPA (flash-attn not installed)"
        )
        return "bfloat16", attention, [why]
    return "float32", "sdpa", ["GPU older than Ampere: no bfloat16, so float32 and SDPA"]


def _rank(rank: int | None, device: str, budget: float, reasons: list[str]) -> int | None:
    cap = CPU_MAX_RANK if device == "cpu" else SMALL_GPU_MAX_RANK if budget < 12 else None
    if rank is not None and cap is not None and rank > cap:
        reasons.append(f"LoRA rank {rank} → {cap}: on this hardware extra rank costs time")
        return cap
    return rank


def _fit(
    config: Any,
    hardware: HardwareProfile,
    budget: float,
    effective: int,
    seq_length: int,
    rank: int | None,
    dtype: str,
) -> tuple[TrainingShape, TrainingMemory, Distributed]:
    """Largest micro-batch without checkpointing, then with it, then shorter rows."""
    lora = rank or DEFAULT_RANK
    batches = [b for b in (64, 32, 16, 8, 4, 2, 1) if b <= effective] or [1]
    seq = seq_length
    while True:
        for checkpointing in (False, True):
            for batch in batches:
                shape = TrainingShape(
                    batch_size=batch,
                    seq_length=seq,
                    gradient_checkpointing=checkpointing,
                    lora_rank=lora,
                    dtype=dtype,
                )
                memory = estimate_training_memory(config, shape)
                placed = _placement(memory, hardware, budget)
                if placed is not None:
                    return shape, memory, placed
        if seq // 2 < min(MIN_SEQ, seq_length):
            break
        seq //= 2
    seq = min(MIN_SEQ, seq_length)
    needed = smallest_training(config, seq, 8, dtype)
    raise NothingFits(
        f"nothing fits in {budget:.1f} GiB: the smallest sensible plan (batch 1, {seq}-token "
        f"rows, LoRA r8) needs {needed.total_gib:.1f} GiB ({needed.explain()}); use a smaller "
        "model or more memory"
    )


def _placement(
    memory: TrainingMemory, hardware: HardwareProfile, budget: float
) -> Distributed | None:
    """How the run is spread over GPUs, or None when it does not fit."""
    count = len(hardware.gpus)
    if memory.total_gib <= budget:
        return "ddp" if count > 1 else "single"
    if count < 2:
        return None
    state = memory.weights_gib + memory.trainable_gib
    if memory.total_gib - state + state / count <= budget:
        return "fsdp"
    offload_fits = state <= hardware.ram_gib * 0.8 and memory.total_gib - state <= budget
    if offload_fits and importlib.util.find_spec("deepspeed") is not None:
        return "deepspeed_zero3_offload"
    return None


def _distributed_reason(choice: Distributed, gpus: int) -> list[str]:
    if choice == "single":
        return []
    return [
        {
            "ddp": f"DDP over {gpus} GPUs: a full copy fits on each, the fastest option",
            "fsdp": f"FSDP over {gpus} GPUs: a full copy does not fit one GPU, sharded it does",
            "deepspeed_zero3_offload": "DeepSpeed ZeRO-3 with CPU offload (train.parallel: "
            "zero3, train.offload: parameters): only keeping weights and optimizer state in RAM "
            "makes it fit",
        }[choice]
    ]


def _max_eval_context(config: Any, native: int, budget: float, dtype: str) -> int:
    best = native
    for multiple in CONTEXT_MULTIPLES:
        if estimate_eval_memory_gib(config, native * multiple, dtype) <= budget:
            best = native * multiple
    return best
