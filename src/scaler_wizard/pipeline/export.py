"""Step 'export': adapter, merged model + tokenizer, GGUF, plots, model card, then export hooks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from scaler_wizard.artifacts.gguf_export import GgufExportError, export_gguf
from scaler_wizard.artifacts.model_card import render_model_card
from scaler_wizard.artifacts.run_folder import RunFolder
from scaler_wizard.catalog import Catalog
from scaler_wizard.evaluate.loss import prefix_config
from scaler_wizard.evaluate.plots import before_after_metrics, plot_before_after, plot_loss_curve
from scaler_wizard.growth.layer_replication import merge_replicated
from scaler_wizard.growth.prefix import NOT_MERGEABLE
from scaler_wizard.recipe.spec import ExportSpec, GgufSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import ArtifactExported, ProgressUpdated

MERGE_PROBE = "Scaler Wizard checks that merging keeps the model's outputs unchanged."


def export_artifacts(
    model: Any,
    tokenizer: Any,
    run: RunFolder,
    spec: ExportSpec,
    manifest: dict[str, Any],
    bus: EventBus,
) -> dict[str, Any]:
    """Write everything; each folder is staged and renamed so none is ever half-written."""
    exported: dict[str, Any] = {}
    unmergeable = unmergeable_reason(model)
    # An adapter that cannot be merged is the only form of the grown model: save it even when
    # only the merged model was asked for, with the tokenizer, so the artifact stands alone.
    if (spec.adapter or (spec.merged and unmergeable)) and hasattr(model, "peft_config"):

        def save_adapter(folder: Path) -> None:
            model.save_pretrained(folder)
            if unmergeable:
                tokenizer.save_pretrained(folder)

        _staged(run.adapter, save_adapter)
        bus.emit(ArtifactExported(path=str(run.adapter), kind="adapter"))
        exported["adapter"] = str(run.adapter)
    if spec.merged and unmergeable:
        exported["merged_skipped"] = unmergeable
    elif spec.merged:
        merged, max_diff = merge_model(model, tokenizer)
        exported["merge_max_logit_diff"] = max_diff

        def save_merged(folder: Path) -> None:
            merged.save_pretrained(folder)
            tokenizer.save_pretrained(folder)

        _staged(run.model, save_merged)
        bus.emit(ArtifactExported(path=str(run.model), kind="merged_model"))
        exported["model"] = str(run.model)
    if spec.gguf.enabled:
        exported.update(export_run_gguf(run, spec.gguf, manifest, bus))
    if spec.plots:
        exported["plots"] = write_plots(run, manifest)
    return exported


def export_run_gguf(
    run: RunFolder, spec: GgufSpec, manifest: dict[str, Any], bus: EventBus | None
) -> dict[str, Any]:
    """GGUF (+ Modelfile) from the run's merged model into `gguf/`; a model the format cannot
    carry faithfully is recorded as `gguf_skipped`, like an unmergeable adapter."""
    if not (run.model / "config.json").is_file():
        return {"gguf_skipped": "no merged model: GGUF is written from model/"}
    target = run.path / "gguf"
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)

    def progress(done: int, total: int) -> None:
        if bus is not None and (done == total or done % max(1, total // 10) == 0):
            bus.emit(ProgressUpdated(task="gguf", done=done, total=total, unit="tensors"))

    try:
        result = export_gguf(
            run.model,
            staging,
            dtype=spec.dtype,
            modelfile=spec.ollama_modelfile,
            name=run.run_id,
            native_length=(manifest.get("context") or {}).get("native_length"),
            progress=progress,
        )
    except GgufExportError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        return {"gguf_skipped": str(exc)}
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    record = result.record(folder=target)
    if bus is not None:
        bus.emit(ArtifactExported(path=record["path"], kind="gguf"))
    return {"gguf": record}


def add_gguf_export(run: RunFolder, spec: GgufSpec) -> dict[str, Any]:
    """`scaler-wizard export RUN --gguf`: GGUF for a finished run, recorded in its manifest and
    model card like one written during the run. Raises GgufExportError when it is refused."""
    manifest = run.read_manifest()
    result = export_run_gguf(run, spec, manifest, None)
    if "gguf_skipped" in result:
        raise GgufExportError(result["gguf_skipped"])
    exports = manifest.setdefault("exports", {})
    exports.pop("gguf_skipped", None)
    exports.update(result)
    if (run.path / "README.md").is_file():  # a failed run has no card to update
        write_model_card(run, manifest)
    run.write_manifest(manifest)
    return dict(result["gguf"])


def unmergeable_reason(model: Any) -> str | None:
    """Why the grown model cannot be merged into plain weights, or None when it can."""
    if prefix_config(model) is not None:  # prompt learning adds inputs, not weight deltas
        return NOT_MERGEABLE
    return None


def merge_model(model: Any, tokenizer: Any) -> tuple[Any, float]:
    """Fold adapters into the base weights; returns the plain model and the largest logit change."""
    import torch

    if not hasattr(model, "merge_and_unload"):
        return model, 0.0
    probe = tokenizer(MERGE_PROBE, return_tensors="pt")
    with torch.no_grad():
        before = model(**probe).logits
        merged = merge_replicated(model)  # merge_and_unload, safe for shared (replicated) layers
        after = merged(**probe).logits
    return merged, float((before - after).abs().max())


def write_plots(run: RunFolder, manifest: dict[str, Any]) -> list[str]:
    run.plots.mkdir(exist_ok=True)
    paths = []
    losses = manifest.get("train", {}).get("losses", [])
    if losses:
        steps, values = zip(*losses, strict=True)
        paths.append(str(plot_loss_curve(list(steps), list(values), run.plots / "loss.png")))
    metrics = manifest.get("metrics", {})
    if metrics.get("base") and metrics.get("grown"):
        base, grown = before_after_metrics(metrics["base"]), before_after_metrics(metrics["grown"])
        paths.append(str(plot_before_after(base, grown, run.plots / "before_after.png")))
    return paths


def write_model_card(run: RunFolder, manifest: dict[str, Any]) -> None:
    files = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in run.path.iterdir()
        if not p.name.startswith(".")
    )
    card = render_model_card(
        manifest, files=[*files, "README.md"] if "README.md" not in files else files
    )
    (run.path / "README.md").write_text(card, encoding="utf-8")


def run_export_hooks(catalog: Catalog, run: RunFolder, manifest: dict[str, Any]) -> dict[str, str]:
    """Plugins' hooks see the finished artifact; a failing hook is reported, the artifact stays."""
    results = {}
    for entry in catalog.export_hooks:
        try:
            entry.impl(run.path, manifest)
            results[entry.name] = "ok"
        except Exception as exc:
            results[entry.name] = f"failed: {type(exc).__name__}: {exc}"
    return results


def _staged(target: Path, write: Any) -> None:
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    write(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
