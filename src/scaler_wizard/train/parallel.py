"""Data parallelism for the explicit loop: every process holds the whole model and trains on
its share of each optimizer step's micro-batches; trainable gradients are summed once per step.

Summing (not averaging) is exact here because each process already divides its loss by the
label tokens of the *whole* step, which every process can count from the shared batch order.
Only trainable parameters travel, so an adapter run moves megabytes, not the model.
"""

from __future__ import annotations

from collections.abc import Sequence
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
