"""What this machine has: CPU cores, RAM, CUDA GPUs, Apple MPS, free disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel


class GpuInfo(BaseModel):
    name: str
    memory_gib: float
    compute_capability: tuple[int, int] | None = None  # (8, 0)+ has bfloat16 and FlashAttention


class HardwareProfile(BaseModel):
    cpu_cores: int
    ram_gib: float
    gpus: list[GpuInfo]
    mps: bool
    disk_free_gib: float

    @property
    def has_cuda(self) -> bool:
        return bool(self.gpus)

    def describe(self) -> str:
        accel = ", ".join(f"{g.name} ({g.memory_gib:.0f} GiB)" for g in self.gpus) or (
            "Apple MPS" if self.mps else "no GPU"
        )
        return (
            f"{self.cpu_cores} CPU cores, {self.ram_gib:.0f} GiB RAM, {accel}, "
            f"{self.disk_free_gib:.0f} GiB free disk"
        )


def probe_hardware(workspace: Path) -> HardwareProfile:
    import torch

    gpus = [
        GpuInfo(
            name=torch.cuda.get_device_name(i),
            memory_gib=torch.cuda.get_device_properties(i).total_memory / 2**30,
            compute_capability=torch.cuda.get_device_capability(i),
        )
        for i in range(torch.cuda.device_count())
    ]
    existing = next((p for p in [workspace, *workspace.parents] if p.exists()), Path("/"))
    return HardwareProfile(
        cpu_cores=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1,
        ram_gib=os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        gpus=gpus,
        mps=bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        disk_free_gib=shutil.disk_usage(existing).free / 2**30,
    )
