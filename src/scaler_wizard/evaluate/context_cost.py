"""What a longer context costs, measured: one forward pass per length, its time and memory.

On CUDA the peak is the allocator's, reset before each length. On a CPU it is the process's
peak RSS, which never goes down: lengths run in increasing order, so each row is the peak after
a forward at that length (weights and everything else included).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

MIN_LENGTH = 1024


class ContextCost(BaseModel):
    length: int
    latency_s: float
    memory_gib: float
    memory_kind: str  # "cuda_peak_allocated" or "process_peak_rss"


def default_lengths(target: int) -> list[int]:
    """Powers of two from 1024 below the target, then the target itself."""
    lengths, length = [], MIN_LENGTH
    while length < target:
        lengths.append(length)
        length *= 2
    return [*lengths, target]


def measure_context_cost(
    model: Any,
    lengths: Sequence[int],
    vocab_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[ContextCost]:
    """Time one no-grad forward of random tokens at each length (after a short warm-up)."""
    import torch

    device = next(model.parameters()).device
    cuda = device.type == "cuda"
    generator = torch.Generator().manual_seed(0)
    ordered = sorted(set(lengths))
    rows = []
    with torch.no_grad():
        model(torch.randint(0, vocab_size, (1, 16), generator=generator).to(device))  # warm-up
        for done, length in enumerate(ordered, start=1):
            ids = torch.randint(0, vocab_size, (1, length), generator=generator).to(device)
            if cuda:
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
            started = time.perf_counter()
            model(ids)
            if cuda:
                torch.cuda.synchronize(device)
            latency = time.perf_counter() - started
            if cuda:
                memory, kind = (
                    torch.cuda.max_memory_allocated(device) / 2**30,
                    "cuda_peak_allocated",
                )
            else:
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
                memory, kind = rss, "process_peak_rss"
            rows.append(
                ContextCost(length=length, latency_s=latency, memory_gib=memory, memory_kind=kind)
            )
            if progress is not None:
                progress(done, len(ordered))
    return rows
