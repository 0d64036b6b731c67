"""The manifest a run starts with, and flat views of its metrics."""

from __future__ import annotations

import copy
import platform
from datetime import UTC, datetime
from typing import Any

from scaler_wizard import __version__
from scaler_wizard.artifacts.run_folder import RunFolder
from scaler_wizard.pipeline.plan import RunPlan
from scaler_wizard.recipe import Recipe
from scaler_wizard.recipe.spec import TrainSpec
from scaler_wizard.train.parallel import launched_mode, launched_offload


def start_manifest(recipe: Recipe, plan: RunPlan, run: RunFolder) -> dict[str, Any]:
    import peft
    import torch
    import transformers

    return {
        "run_id": run.run_id,
        "recipe_name": recipe.name,
        "status": "running",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": {
            "source": recipe.model.source,
            "name": plan.model.name,
            "path": plan.model.path,
            "architecture": plan.model.architecture,
        },
        "plan": plan.model_dump(mode="json"),
        "context": plan.context.model_dump(mode="json"),
        "train": {**recipe.train.model_dump(mode="json"), "seq_length": recipe.data.seq_length},
        "recipe": copy.deepcopy(recipe.model_dump(mode="json")),
        "versions": {
            "scaler_wizard": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
        },
    }


def training_launch(train: TrainSpec, processes: int) -> dict[str, Any]:
    """How training runs: `processes` (the launcher's WORLD_SIZE), `parallel`, how they share
    it, and `offload`, what ZeRO-Offload keeps in CPU RAM. They are the recipe's, except that
    an FSDP or DeepSpeed `accelerate launch` decides them; one process records the mode as
    configured."""
    parallel = launched_mode(train.parallel) if processes > 1 else train.parallel
    return {
        "processes": processes,
        "parallel": parallel,
        "offload": launched_offload(train.offload),
    }


def flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    flat.update({f"passkey@{k}": v for k, v in metrics.get("passkey", {}).items()})
    return flat
