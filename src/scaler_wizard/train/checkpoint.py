"""Atomic checkpoints of everything trainable plus optimizer, scheduler and RNG state.

Under `train.parallel: fsdp` the weights and optimizer state are sharded: `training_state`
gathers them whole (every process calls it) and the checkpoint is written exactly as an
unsharded one, so either kind of run resumes, rolls back to or exports from it; loading cuts
each process's shard out of the whole values."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

CHECKPOINT_PREFIX = "step-"


def trainable_state(model: Any) -> dict[str, Any]:
    """The trainable weights, whole, on the CPU (sharded ones are gathered: a collective)."""
    from scaler_wizard.train.sharding import whole

    return {
        n: whole(p.detach()).cpu().clone() for n, p in model.named_parameters() if p.requires_grad
    }


def training_state(model: Any, optimizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Trainable weights and optimizer state as a checkpoint stores them. With sharded
    parameters every process must call it (it gathers); the others may drop the result."""
    from scaler_wizard.train.sharding import whole

    state = optimizer.state_dict()
    state["state"] = {
        index: {key: whole(value) for key, value in values.items()}
        for index, values in state["state"].items()
    }
    return trainable_state(model), state


def checkpoint_step(name: str) -> int:
    """The optimizer step a checkpoint folder name (`step-NNNNNN`) was saved at."""
    return int(name.removeprefix(CHECKPOINT_PREFIX))


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"{CHECKPOINT_PREFIX}{step:06d}"


def save_checkpoint(
    folder: Path,
    step: int,
    state: tuple[dict[str, Any], dict[str, Any]],
    scheduler: Any,
    extra: dict[str, Any],
) -> Path:
    """Write `folder/step-NNNNNN` via a staging folder and a rename: whole or absent. `state`
    is `training_state(model, optimizer)`."""
    import torch
    from safetensors.torch import save_file

    target = checkpoint_path(folder, step)
    staging = folder / f".{target.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    weights, optimizer_state = state
    save_file(weights, str(staging / "trainable.safetensors"))
    rng = {"python": random.getstate(), "torch": torch.get_rng_state()}
    torch.save(
        {"optimizer": optimizer_state, "scheduler": scheduler.state_dict(), "rng": rng},
        staging / "state.pt",
    )
    (staging / "progress.json").write_text(json.dumps({"step": step, **extra}, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def load_checkpoint(
    path: Path, model: Any, optimizer: Any, scheduler: Any, zero: Any = None
) -> dict[str, Any]:
    """Restore trainable weights, optimizer, scheduler and RNG; returns progress.json.
    Sharded parameters and their optimizer state get this process's shard; under DeepSpeed
    (`zero`, a `zero.ZeroRun`) its partitions get them."""
    import torch
    from safetensors.torch import load_file

    from scaler_wizard.train.sharding import shard_like

    weights = load_file(str(path / "trainable.safetensors"))
    params = dict(model.named_parameters())
    missing = sorted(set(weights) - set(params))
    if missing:
        raise ValueError(f"checkpoint {path} has weights this model lacks: {missing[:3]}")
    state = torch.load(path / "state.pt", weights_only=False)
    if zero is not None:
        zero.load_training_state(weights, state["optimizer"])
    else:
        with torch.no_grad():
            for name, value in weights.items():
                params[name].copy_(shard_like(params[name], value))
        optimizer.load_state_dict(_placed(state["optimizer"], optimizer))
    scheduler.load_state_dict(state["scheduler"])
    random.setstate(state["rng"]["python"])
    torch.set_rng_state(state["rng"]["torch"])
    progress: dict[str, Any] = json.loads((path / "progress.json").read_text())
    return progress


def _placed(saved: dict[str, Any], optimizer: Any) -> dict[str, Any]:
    """A saved optimizer state with each per-parameter tensor (Adam's moments) placed as its
    parameter is: sharded for a sharded parameter. Steps and scalars stay as they are."""
    from scaler_wizard.train.sharding import shard_like

    state = dict(saved["state"])
    for saved_group, group in zip(saved["param_groups"], optimizer.param_groups, strict=True):
        for index, param in zip(saved_group["params"], group["params"], strict=True):
            if index in state:
                state[index] = {
                    key: shard_like(param, value) if _shaped_like(value, param) else value
                    for key, value in state[index].items()
                }
    return {**saved, "state": state}


def _shaped_like(value: Any, param: Any) -> bool:
    return hasattr(value, "shape") and tuple(value.shape) == tuple(param.shape) and value.dim() > 0


def latest_checkpoint(folder: Path, before: int | None = None) -> Path | None:
    """The newest whole checkpoint, or the newest at or before step `before`."""
    found = sorted(p for p in folder.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir())
    if before is not None:
        found = [p for p in found if checkpoint_step(p.name) <= before]
    return found[-1] if found else None
