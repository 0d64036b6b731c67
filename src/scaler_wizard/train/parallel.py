"""Data parallelism for the explicit loop: every process trains on its share of each optimizer
step's micro-batches. With `train.parallel: ddp` every process holds the whole model and the
trainable gradients are summed once per step; with `fsdp` the model, its gradients and its
optimizer state are sharded across the processes (`sharding.py`); with `zero2`/`zero3` a
DeepSpeed ZeRO engine shards them (`zero.py`).

Summing (not averaging) is exact here because each process already divides its loss by the
label tokens of the *whole* step, which every process can count from the shared batch order.
Only trainable parameters travel, so an adapter run moves megabytes, not the model.

accelerate's FSDP launch runs as `train.parallel: fsdp`, its DeepSpeed launch as `zero2` or
`zero3` (the config's `zero_stage`). Megatron and accelerate's tensor/context parallelism are
refused: the loss comes from the backbone's hidden states and a chunked LM head, which bypasses
the `forward` those wrappers rely on, so they would silently run as plain data parallelism.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Processes:
    """This process's place in the run: `rank` of `world`."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, micro_batches: Sequence[Any]) -> list[Any]:
        """This process's micro-batches of a step (round-robin, so shares differ by ≤ 1)."""
        return list(micro_batches[self.rank :: self.world])


# What `accelerate launch` sets for an FSDP config: the loop shards with its own FSDP2.
FSDP_LAUNCH = "ACCELERATE_USE_FSDP"
# What it sets for a DeepSpeed config, and the ZeRO stage that config asks for.
DEEPSPEED_LAUNCH = "ACCELERATE_USE_DEEPSPEED"
DEEPSPEED_STAGE = "ACCELERATE_DEEPSPEED_ZERO_STAGE"
DEEPSPEED_OFFLOAD = {
    "optimizer": "ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE",
    "parameters": "ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE",
}
# A DeepSpeed JSON of the user's own: the loop builds its config from the recipe instead.
DEEPSPEED_CONFIG_FILE = "ACCELERATE_DEEPSPEED_CONFIG_FILE"
ZERO_STAGES = {"zero2": 2, "zero3": 3}
# What it sets for the sharding the loop cannot run.
SHARDING_LAUNCHES = {
    "ACCELERATE_USE_MEGATRON_LM": "Megatron-LM",
    "ACCELERATE_USE_PARALLELISM_CONFIG": "tensor/context parallelism",
}


class UnsupportedLaunch(ValueError):  # noqa: N818 - reads as what the user asked for
    """The launcher asked for something the explicit loop cannot do; the message says what to
    launch instead."""


def refuse_sharding() -> None:
    """Raise when the launcher asked for sharding the loop cannot run (or a ZeRO stage it does
    not run); the message says what runs instead."""
    launched_offload("none")  # checks the stage and the offload devices too
    asked = [name for key, name in SHARDING_LAUNCHES.items() if _flag(os.environ.get(key))]
    if asked:
        raise UnsupportedLaunch(
            f"this launch asks for {', '.join(asked)}, which the training loop does not run. "
            "To shard parameters, gradients and optimizer state across processes, set "
            "`train.parallel: fsdp` and launch with `torchrun --nproc_per_node N -m "
            "scaler_wizard.cli grow RECIPE` (or `accelerate launch --config_file "
            "recipes/accelerate/fsdp.yaml ...`), or `train.parallel: zero2`/`zero3` for "
            "DeepSpeed ZeRO (recipes/accelerate/zero2.yaml, zero3.yaml); for plain data "
            "parallelism leave it at ddp and use the same torchrun command, or "
            "recipes/accelerate/ddp.yaml."
        )


def sharded(parallel: str) -> bool:
    """Whether training shards the model: the recipe's `train.parallel: fsdp`, or an FSDP
    `accelerate launch` (whose own fsdp_* settings do not apply: the loop shards by layer)."""
    return parallel.startswith("fsdp") or _flag(os.environ.get(FSDP_LAUNCH))


def zero_stage(parallel: str) -> int | None:
    """The DeepSpeed ZeRO stage a run asks for: a DeepSpeed `accelerate launch` (its
    `zero_stage`, 2 when unset), else the recipe's `train.parallel: zero2`/`zero3`; None for
    no DeepSpeed."""
    if _flag(os.environ.get(DEEPSPEED_LAUNCH)):
        stage = int(os.environ.get(DEEPSPEED_STAGE) or 2)
        if stage not in ZERO_STAGES.values():
            raise UnsupportedLaunch(
                f"this DeepSpeed launch asks for ZeRO stage {stage}; the training loop runs "
                "stages 2 and 3 (zero_stage: 2 or 3 in the accelerate config)"
            )
        return stage
    return ZERO_STAGES.get(parallel)


def launched_offload(offload: str) -> str:
    """What ZeRO-Offload moves to CPU RAM: the recipe's `train.offload`, unless a DeepSpeed
    `accelerate launch` says (its offload_optimizer_device / offload_param_device)."""
    stage = zero_stage("ddp")
    if stage is None:
        return offload
    if os.environ.get(DEEPSPEED_CONFIG_FILE):
        raise UnsupportedLaunch(
            "this DeepSpeed launch names a DeepSpeed config file (deepspeed_config_file), which "
            "the training loop does not read: it builds DeepSpeed's config from the recipe. "
            "Give zero_stage and offload_optimizer_device / offload_param_device in the "
            "accelerate config instead (recipes/accelerate/zero3.yaml)"
        )
    devices = {
        what: (os.environ.get(key) or "none").lower() for what, key in DEEPSPEED_OFFLOAD.items()
    }
    for what, device in devices.items():
        if device not in ("none", "cpu"):
            raise UnsupportedLaunch(
                f"this DeepSpeed launch offloads the {what} to {device}; the training loop "
                "offloads to cpu or not at all"
            )
    if devices["parameters"] == "cpu":
        if stage != 3:
            raise UnsupportedLaunch(
                "this DeepSpeed launch offloads parameters with ZeRO stage 2, which keeps every "
                "parameter on every device; use zero_stage: 3"
            )
        return "parameters"
    return "optimizer" if devices["optimizer"] == "cpu" else offload


def launched_mode(parallel: str) -> str:
    """How several processes share training: the recipe's `train.parallel`, unless the
    launcher asked for DeepSpeed (`zero2`/`zero3`) or FSDP (`fsdp`, keeping fsdp_grad_op)."""
    stage = zero_stage(parallel)
    if stage is not None:
        return f"zero{stage}"
    if sharded(parallel) and not parallel.startswith("fsdp"):
        return "fsdp"
    return parallel


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def sum_gradients(params: Sequence[Any]) -> None:
    """All-reduce (sum) the gradients of `params` across processes in one flat buffer."""
    import torch
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for param, grad in zip(params, grads, strict=True):
        size = grad.numel()
        param.grad = flat[offset : offset + size].view_as(param).clone()
        offset += size


def copy_from_main(params: Sequence[Any]) -> None:
    """Give every process rank 0's values of `params` (one flat broadcast), as DDP does at the
    start: the processes then stay identical because they apply identical summed gradients."""
    import torch
    import torch.distributed as dist

    flat = torch.cat([p.detach().reshape(-1) for p in params])
    dist.broadcast(flat, src=0)
    offset = 0
    with torch.no_grad():
        for param in params:
            size = param.numel()
            param.copy_(flat[offset : offset + size].view_as(param))
            offset += size


def agree_stop(requested: bool, device: Any) -> bool:
    """True on every process when any process was asked to stop (SIGTERM/SIGINT), so that all
    stop after the same step and rank 0 checkpoints the state every process holds."""
    return sum_across(float(requested), device) > 0


def sum_across(value: float, device: Any) -> float:
    """The sum of a per-process number over every process."""
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return float(tensor.item())


def label_tokens(labels: Sequence[int]) -> int:
    """Positions of one row whose next-token label counts (as `label_loss_sum` scores them)."""
    return sum(1 for label in labels[1:] if label != -100)


@contextmanager
def leaving(
    finish: Callable[[], None] | None, agreed: tuple[type[BaseException], ...]
) -> Iterator[None]:
    """Call `finish` (the model leaves sharding: a collective) when the block ends normally or
    with one of the `agreed` exceptions (raised on every process at the same step: a pause,
    the breaker). Any other failure may be one process's alone, and a collective then would
    wait for peers that never come."""
    if finish is None:
        yield
        return
    try:
        yield
    except agreed:
        finish()
        raise
    finish()
