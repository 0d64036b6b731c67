"""The Task's entry point: TransformerLab job in, grown model and job record out.

`lab.init()` attaches to the launched job (or creates a local one), the job's parameters become
a recipe, the pipeline runs with a `LabSink`, and the job ends COMPLETE (model, adapter and
report saved, `score` set), STOPPED (SIGTERM from the stop button: a checkpoint to resume from)
or FAILED (the message names the parameter or phase at fault).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from scaler_wizard.integrations.transformerlab.checkpoints import restore_bundle, save_bundle
from scaler_wizard.integrations.transformerlab.mapping import (
    ParameterError,
    config_to_recipe,
    explain,
)
from scaler_wizard.integrations.transformerlab.sink import LabSink

DATA_SUFFIXES = (".jsonl", ".json", ".txt")


# A BaseException, so that `except Exception` in libraries cannot swallow the stop request.
class RunStopped(BaseException):
    """SIGTERM outside training, where the training loop's own handler is not installed."""


def main() -> int:
    from lab import lab

    lab.init()
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        return _run(lab)
    except (RunStopped, KeyboardInterrupt):
        _mark_stopped(lab, "stopped before training checkpointed; start the task again")
        return 0  # a non-zero exit would make TransformerLab's launcher mark the job FAILED
    except ParameterError as exc:
        lab.error(str(exc))
        return 1
    except Exception as exc:
        lab.error(_failure_message(exc))
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(lab: Any) -> int:
    from scaler_wizard.pipeline import PhaseFailed, resume_pipeline, run_pipeline
    from scaler_wizard.recipe import RecipeError

    sink = LabSink(lab, lambda path: _save_checkpoint(lab, path))
    resume_from = lab.get_checkpoint_to_resume()
    if resume_from:
        run_id = restore_bundle(resume_from, str(lab.job.id))
        lab.log(f"resuming Scaler Wizard run {run_id} from {resume_from}")
        outcome = resume_pipeline(run_id, console=False, extra_sinks=[sink])
    else:
        config = lab.get_config()
        mapped = config_to_recipe(
            config,
            resolve_model=lambda value: _model_path(lab, value),
            resolve_dataset=lambda value: _dataset_file(lab, value),
        )
        for warning in mapped.warnings:
            lab.log(warning)
        persona = str(config.get("persona") or mapped.recipe.name)
        lab.log(f"recipe {persona} with " + (", ".join(mapped.overrides) or "no overrides"))
        try:
            outcome = run_pipeline(mapped.recipe, console=False, extra_sinks=[sink])
        except (RecipeError, PhaseFailed) as exc:
            # plan-time checks (e.g. a rank a layer cannot hold) are still parameter problems
            error = exc.error if isinstance(exc, PhaseFailed) else exc
            if isinstance(error, RecipeError):
                raise ParameterError(explain(error, mapped.set_keys, persona)) from None
            raise
    if outcome.status == "paused":
        step = int(outcome.manifest.get("paused_at_step") or 0)
        _mark_stopped(lab, f"stopped at step {step}; resume from checkpoint step-{step:06d}")
        return 0
    _publish(lab, outcome.run.path, outcome.manifest)
    lab.finish(f"grown model saved (run {outcome.run.run_id})", score=_score(outcome.manifest))
    return 0


def _save_checkpoint(lab: Any, checkpoint: Path) -> None:
    save_bundle(lab, checkpoint)


def _publish(lab: Any, run: Path, manifest: dict[str, Any]) -> None:
    """The merged model into the job's models; adapter and report as artifacts."""
    if (run / "model").is_dir():
        parent = manifest.get("base_model", {})
        source = parent.get("source") if isinstance(parent, dict) else None
        lab.save_model(
            str(run / "model"),
            name=f"{manifest.get('recipe_name', 'scaler-wizard')}-grown",
            pipeline_tag="text-generation",
            parent_model=str(source) if source else None,
        )
    for name in ("adapter", "README.md", "manifest.json", "plots"):
        if (run / name).exists():
            lab.save_artifact(str(run / name), name=name)


def _score(manifest: dict[str, Any]) -> dict[str, float]:
    """Grown metrics under their own names (what jobs are ranked on), base ones prefixed."""
    metrics = manifest.get("metrics", {})
    score = {k: float(v) for k, v in _flat(metrics.get("grown", {})).items()}
    score.update({f"base/{k}": float(v) for k, v in _flat(metrics.get("base", {})).items()})
    return score


def _flat(values: dict[str, Any]) -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{key}@{k}": v for k, v in _flat(value).items()})
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[key] = float(value)
    return flat


def _model_path(lab: Any, value: str) -> str:
    """A workspace model id becomes its folder; 'embedded', paths and hub ids pass through."""
    if value == "embedded" or Path(value).expanduser().exists():
        return value
    try:
        folder = Path(lab.get_model_path(value))
    except Exception:  # not a workspace model: a hub id, which the loader resolves
        return value
    return str(folder) if (folder / "config.json").is_file() else value


def _dataset_file(lab: Any, value: str) -> str:
    """A file path as is; a workspace dataset id becomes the data file in its folder."""
    if Path(value).expanduser().is_file():
        return value
    try:
        folder = Path(_sync(lab.get_dataset(value).get_dir()))
    except Exception:
        raise ValueError(f"{value!r} is neither a file nor a dataset in this workspace") from None
    files = sorted(
        p for p in folder.rglob("*") if p.suffix in DATA_SUFFIXES and p.name != "index.json"
    )
    if not files:
        raise ValueError(f"dataset {value!r} has no {'/'.join(DATA_SUFFIXES)} file in {folder}")
    return str(files[0])


def _mark_stopped(lab: Any, message: str) -> None:
    """The facade has no "stopped" call: set what `lab.error` sets, with status STOPPED."""
    from lab import JobStatus

    fields = {
        "completion_status": "stopped",
        "completion_details": message,
        "end_time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    lab.log(message)
    _sync(lab.job.update_job_data_fields(fields))
    _sync(lab.job.update_status(JobStatus.STOPPED))


def _sync(coroutine: Any) -> Any:
    """Run one of the SDK's async Job calls on the thread's default event loop, the loop the
    facade's own sync methods use (their storage clients stay bound to it)."""
    import asyncio
    import warnings

    with warnings.catch_warnings():  # get_event_loop() warns when it has to create the loop
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
    return loop.run_until_complete(coroutine)


def _failure_message(exc: BaseException) -> str:
    from scaler_wizard.pipeline import PhaseFailed

    if isinstance(exc, PhaseFailed):
        return f"{exc.phase} failed: {type(exc.error).__name__}: {exc.error}"
    return f"{type(exc).__name__}: {exc}"


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise RunStopped
