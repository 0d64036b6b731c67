"""Atomic checkpoints of everything trainable plus optimizer, scheduler and RNG state."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

CHECKPOINT_PREFIX = "step-"


def trainable_state(model: Any) -> dict[str, Any]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def checkpoint_step(name: str) -> int:
    """The optimizer step a checkpoint folder name (`step-NNNNNN`) was saved at."""
    return int(name.removeprefix(CHECKPOINT_PREFIX))


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"{CHECKPOINT_PREFIX}{step:06d}"


def save_checkpoint(
    folder: Path, step: int, model: Any, optimizer: Any, scheduler: Any, extra: dict[str, Any]
) -> Path:
    """Write `folder/step-NNNNNN` via a staging folder and a rename: whole or absent."""
    import torch
    from safetensors.torch import save_file

    target = checkpoint_path(folder, step)
    staging = folder / f".{target.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_file(trainable_state(model), str(staging / "trainable.safetensors"))
    rng = {"python": random.getstate(), "torch": torch.get_rng_state()}
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng},
        staging / "state.pt",
    )
    (staging / "progress.json").write_text(json.dumps({"step": step, **extra}, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    """Restore trainable weights, optimizer, scheduler and RNG; returns progress.json."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(path / "trainable.safetensors"))
    params = dict(model.named_parameters())
    missing = sorted(set(weights) - set(params))
    if missing:
        raise ValueError(f"checkpoint {path} has weights this model lacks: {missing[:3]}")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    state = torch.load(path / "state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    random.setstate(state["rng"]["python"])
    torch.set_rng_state(state["rng"]["torch"])
    progress: dict[str, Any] = json.loads((path / "progress.json").read_text())
    return progress


def latest_checkpoint(folder: Path, before: int | None = None) -> Path | None:
    """The newest whole checkpoint, or the newest at or before step `before`."""
    found = sorted(p for p in folder.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir())
    if before is not None:
        found = [p for p in found if checkpoint_step(p.name) <= before]
    return found[-1] if found else None
