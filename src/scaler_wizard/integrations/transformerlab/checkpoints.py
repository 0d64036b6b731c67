"""TransformerLab checkpoints that carry everything a resume needs.

A Scaler Wizard checkpoint holds trainable weights and optimizer state; resuming also needs the
run's recipe and its base measurements. Each TransformerLab checkpoint is therefore the
checkpoint folder plus `scaler_wizard_run/` (recipe.yaml, manifest.json, events.jsonl), so a
resumed job works on another machine, and resumes from exactly the checkpoint the user chose.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from scaler_wizard.paths import runs_dir

RUN_DIR = "scaler_wizard_run"
RUN_FILES = ("recipe.yaml", "manifest.json", "events.jsonl")


def save_bundle(lab: Any, checkpoint: Path) -> str:
    """Copy `run/checkpoints/step-N` plus the run's records into the job's checkpoints."""
    run = checkpoint.parents[1]
    with tempfile.TemporaryDirectory(prefix="scaler-wizard-tl-") as tmp:
        bundle = Path(tmp) / checkpoint.name
        shutil.copytree(checkpoint, bundle)
        (bundle / RUN_DIR).mkdir()
        for name in RUN_FILES:
            if (run / name).is_file():
                shutil.copy2(run / name, bundle / RUN_DIR / name)
        return str(lab.save_checkpoint(str(bundle), name=checkpoint.name))


def restore_bundle(source: str, job_id: str) -> str:
    """Rebuild a run folder holding only the chosen checkpoint; return its run id."""
    folder = Path(source)
    manifest_file = folder / RUN_DIR / "manifest.json"
    if "://" in source or not manifest_file.is_file():
        raise ValueError(f"{source} is not a local Scaler Wizard checkpoint (no {manifest_file})")
    manifest = json.loads(manifest_file.read_text())
    # A new run id per job: the parent's run may hold later checkpoints than the chosen one.
    run_id = f"{manifest.get('run_id', 'run')}-tl{job_id}"
    run = runs_dir() / run_id
    if not run.exists():
        staging = run.with_name(f".{run_id}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(folder, staging / "checkpoints" / folder.name, ignore=_skip_run_dir)
        for name in RUN_FILES:
            if (folder / RUN_DIR / name).is_file():
                shutil.copy2(folder / RUN_DIR / name, staging / name)
        manifest["run_id"] = run_id
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        staging.rename(run)
    return run_id


def _skip_run_dir(directory: str, names: list[str]) -> list[str]:
    return [RUN_DIR] if RUN_DIR in names else []
