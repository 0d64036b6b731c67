"""Steps 'evaluate' and 'contracts': the same measurements on base and grown, then the checks."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scaler_wizard.evaluate.context_cost import default_lengths, measure_context_cost
from scaler_wizard.evaluate.held_out import evaluate_held_out
from scaler_wizard.evaluate.long_ppl import evaluate_long_documents
from scaler_wizard.evaluate.needle import run_needle
from scaler_wizard.evaluate.passkey import passkey_lengths, run_passkey
from scaler_wizard.evaluate.plots import plot_needle_heatmap
from scaler_wizard.pipeline.phases import ContractError
from scaler_wizard.recipe.spec import ContractSpec, EvaluateSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import ContractChecked, EvalCompleted, ProgressUpdated


def measure(
    model: Any,
    tokenizer: Any,
    eval_rows: Sequence[Any],
    spec: EvaluateSpec,
    target_length: int,
    which: str,
    bus: EventBus,
    batch_size: int,
    seed: int,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """Held-out loss/perplexity, passkey, long-document perplexity and the needle grid.

    Detailed results (per-bucket perplexity, needle cells and heatmap) go to `out_dir`.
    """
    metrics: dict[str, Any] = {}
    if spec.held_out:
        held = evaluate_held_out(
            model,
            eval_rows,
            batch_size=batch_size,
            progress=_progress(bus, f"held-out loss ({which})", "rows"),
        )
        metrics["eval_loss"] = held.loss
        metrics["eval_perplexity"] = held.perplexity
        metrics["eval_label_tokens"] = held.label_tokens
    passkey = spec.passkey
    if passkey is not None and (which == "grown" or passkey.baseline):
        lengths = passkey_lengths(passkey, target_length)
        result = run_passkey(
            model,
            tokenizer,
            lengths,
            passkey.trials,
            seed=seed,
            progress=_progress(bus, f"passkey ({which})", "trials"),
        )
        metrics["passkey"] = {str(r.length): r.accuracy for r in result.lengths}
    long_ppl = spec.long_ppl
    if long_ppl is not None and (which == "grown" or long_ppl.baseline):
        long_result = evaluate_long_documents(
            model,
            tokenizer,
            [Path(d) for d in long_ppl.documents],
            max_length=long_ppl.max_length or target_length,
            bucket_size=long_ppl.bucket_size,
            stride=long_ppl.stride,
            progress=_progress(bus, f"long documents ({which})", "docs"),
        )
        metrics["long_ppl"] = {
            "perplexity": long_result.perplexity,
            "truncated_perplexity": long_result.perplexity_by_length(),
        }
        if out_dir is not None:
            _write_json(out_dir / f"long_ppl_{which}.json", long_result.model_dump(mode="json"))
    needle = spec.needle
    if needle is not None and (which == "grown" or needle.baseline):
        documents = needle.documents or (long_ppl.documents if long_ppl else [])
        grid = run_needle(
            model,
            tokenizer,
            needle.lengths or [target_length],
            needle.depths,
            documents=[Path(d) for d in documents],
            trials=needle.trials,
            seed=seed,
            progress=_progress(bus, f"needle grid ({which})", "cells"),
        )
        metrics["needle"] = grid.accuracy_table()
        if out_dir is not None:
            _write_json(out_dir / f"needle_{which}.json", grid.model_dump(mode="json"))
            plot_needle_heatmap(grid, out_dir / f"needle_{which}.png", title=f"Needle ({which})")
    cost = spec.context_cost
    if cost is not None and (which == "grown" or cost.baseline):
        rows = measure_context_cost(
            model,
            cost.lengths or default_lengths(target_length),
            len(tokenizer),
            progress=_progress(bus, f"context cost ({which})", "lengths"),
        )
        metrics["context_cost"] = {
            str(r.length): {"latency_s": r.latency_s, "memory_gib": r.memory_gib} for r in rows
        }
        if out_dir is not None:
            _write_json(out_dir / f"context_cost_{which}.json", [r.model_dump() for r in rows])
    bus.emit(EvalCompleted(model=which, metrics=metrics))
    return metrics


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def check_contracts(
    spec: ContractSpec, base: dict[str, Any], grown: dict[str, Any], bus: EventBus
) -> list[dict[str, Any]]:
    """Every contract is checked and reported; the first failure list is raised together."""
    checks: list[tuple[str, bool, str]] = []
    loss = grown.get("eval_loss")
    if loss is not None:
        checks.append(("finite_eval_loss", math.isfinite(loss), f"grown held-out loss {loss:.4f}"))
    if spec.max_eval_loss_increase is not None and loss is not None and "eval_loss" in base:
        delta = loss - base["eval_loss"]
        checks.append(
            (
                "eval_loss_not_worse",
                delta <= spec.max_eval_loss_increase,
                f"held-out loss {base['eval_loss']:.4f} → {loss:.4f} (Δ {delta:+.4f}, "
                f"allowed ≤ {spec.max_eval_loss_increase:+.4f})",
            )
        )
    if spec.min_passkey_accuracy is not None:
        accuracies = grown.get("passkey", {})
        worst = min(accuracies.values()) if accuracies else 0.0
        checks.append(
            (
                "passkey_accuracy",
                worst >= spec.min_passkey_accuracy,
                f"lowest passkey accuracy {worst:.0%}, required ≥ {spec.min_passkey_accuracy:.0%}",
            )
        )
    for name, passed, detail in checks:
        bus.emit(ContractChecked(name=name, passed=passed, detail=detail))
    failed = [f"{name}: {detail}" for name, passed, detail in checks if not passed]
    if failed:
        raise ContractError("contract failed — " + "; ".join(failed))
    return [{"name": n, "passed": p, "detail": d} for n, p, d in checks]


def _progress(bus: EventBus, task: str, unit: str) -> Any:
    def report(done: int, total: int) -> None:
        bus.emit(ProgressUpdated(task=task, done=done, total=total, unit=unit))

    return report
