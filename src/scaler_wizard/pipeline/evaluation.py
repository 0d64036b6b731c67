"""Steps 'evaluate' and 'contracts': the same measurements on base and grown, then the checks."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scaler_wizard.evaluate.context_cost import default_lengths, measure_context_cost
from scaler_wizard.evaluate.held_out import evaluate_held_out, model_device
from scaler_wizard.evaluate.judged_comparison import (
    AnswerSet,
    JudgedComparison,
    comparison_markdown,
    generate_answers,
    judge_comparison,
    side_by_side,
)
from scaler_wizard.evaluate.long_ppl import evaluate_long_documents
from scaler_wizard.evaluate.multi_turn import (
    Conversation,
    conversations_from_rows,
    evaluate_turns,
    read_conversations,
    tokenize_conversations,
)
from scaler_wizard.evaluate.needle import run_needle
from scaler_wizard.evaluate.passkey import passkey_lengths, run_passkey
from scaler_wizard.evaluate.plots import plot_needle_heatmap
from scaler_wizard.evaluate.template_adherence import evaluate_adherence
from scaler_wizard.pipeline.phases import ContractError
from scaler_wizard.recipe.spec import ContractSpec, EvaluateSpec, MultiTurnSpec, TokenizerSpec
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
    """Held-out loss/perplexity, passkey, long-document perplexity, the needle grid, context
    cost and multi-turn chat quality.

    Detailed results (per-bucket perplexity, needle cells and heatmap, per-turn loss, answers
    and the judged comparison) go to `out_dir`.
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
    if spec.multi_turn is not None:
        metrics.update(
            _multi_turn(
                model,
                tokenizer,
                eval_rows,
                spec.multi_turn,
                target_length,
                which,
                bus,
                batch_size,
                out_dir,
            )
        )
    bus.emit(EvalCompleted(model=which, metrics=metrics))
    return metrics


ANSWERS_FILE = "answers_{which}.json"


def _multi_turn(
    model: Any,
    tokenizer: Any,
    eval_rows: Sequence[Any],
    spec: MultiTurnSpec,
    target_length: int,
    which: str,
    bus: EventBus,
    batch_size: int,
    out_dir: Path | None,
) -> dict[str, Any]:
    """Per-turn loss and template adherence; answers to the fixed prompts are kept in
    `out_dir` when the base is measured, so the grown measurement can put both side by side
    (and have them judged) without loading the base model again."""
    metrics: dict[str, Any] = {}
    if which != "base" or spec.baseline:
        conversations = _conversations(tokenizer, eval_rows, spec, target_length)
        turns = evaluate_turns(
            model,
            conversations,
            batch_size=batch_size,
            progress=_progress(bus, f"multi-turn loss ({which})", "conversations"),
        )
        adherence = evaluate_adherence(
            model,
            tokenizer,
            conversations,
            max_new_tokens=spec.max_new_tokens,
            progress=_progress(bus, f"template adherence ({which})", "replies"),
        )
        metrics.update(
            multi_turn_loss=turns.loss,
            multi_turn_perplexity=turns.perplexity,
            template_stop_rate=adherence.stop_rate,
            template_leak_rate=adherence.leak_rate,
            template_adherence=adherence.adherence_rate,
        )
        metrics["multi_turn"] = {
            "loss_by_turn": turns.loss_by_turn(),
            "perplexity_by_turn": turns.perplexity_by_turn(),
        }
        if out_dir is not None:
            _write_json(out_dir / f"multi_turn_{which}.json", turns.model_dump(mode="json"))
            _write_json(
                out_dir / f"template_adherence_{which}.json", adherence.model_dump(mode="json")
            )
    if not spec.prompts or out_dir is None:
        return metrics
    answers = generate_answers(
        model,
        tokenizer,
        spec.prompts,
        max_new_tokens=spec.max_new_tokens,
        progress=_progress(bus, f"answers to fixed prompts ({which})", "prompts"),
    )
    path = str(getattr(model, "name_or_path", "") or "") or None
    answer_set = AnswerSet(
        model=which,
        model_path=path if which == "base" else None,
        max_new_tokens=spec.max_new_tokens,
        answers=answers,
    )
    _write_json(out_dir / ANSWERS_FILE.format(which=which), answer_set.model_dump(mode="json"))
    base_file = out_dir / ANSWERS_FILE.format(which="base")
    if which == "base" or not base_file.is_file():  # e.g. a run resumed from before
        return metrics
    base = AnswerSet.model_validate_json(base_file.read_text())
    comparison = _compare(model, spec, base, answer_set, bus, which)
    _write_json(out_dir / f"judged_comparison_{which}.json", comparison.model_dump(mode="json"))
    (out_dir / f"judged_comparison_{which}.md").write_text(comparison_markdown(comparison))
    if comparison.win_rate is not None:
        metrics["judged_win_rate"] = comparison.win_rate
        metrics["judged"] = {
            "grown_wins": comparison.grown_wins,
            "base_wins": comparison.base_wins,
            "ties": comparison.ties,
        }
    return metrics


def _conversations(
    tokenizer: Any, eval_rows: Sequence[Any], spec: MultiTurnSpec, max_length: int
) -> list[Conversation]:
    if spec.conversations:
        field = "evaluate.multi_turn.conversations"
        examples = read_conversations(Path(spec.conversations), field, spec.max_conversations)
        found = tokenize_conversations(tokenizer, examples, max_length)
        where = spec.conversations
    else:
        found = conversations_from_rows(tokenizer, eval_rows, spec.max_conversations)
        where = "the held-out split"
    if not found:
        raise ValueError(
            f"evaluate.multi_turn: {where} holds no chat conversation with an assistant reply; "
            "set evaluate.multi_turn.conversations to a JSONL file of conversations"
        )
    return found


def _compare(
    model: Any,
    spec: MultiTurnSpec,
    base: AnswerSet,
    grown: AnswerSet,
    bus: EventBus,
    which: str,
) -> JudgedComparison:
    """Side by side, judged when a judge is named (loaded here, dropped when done)."""
    by_prompt = {answer.prompt: answer.answer for answer in base.answers}
    kept = [answer for answer in grown.answers if answer.prompt in by_prompt]
    prompts = [answer.prompt for answer in kept]
    base_answers = [by_prompt[prompt] for prompt in prompts]
    grown_answers = [answer.answer for answer in kept]
    if spec.judge is None or not prompts:
        return side_by_side(prompts, base_answers, grown_answers)
    judge, judge_tokenizer, name = _load_judge(spec.judge, base)
    judge.to(model_device(model))
    try:
        return judge_comparison(
            judge,
            judge_tokenizer,
            prompts,
            base_answers,
            grown_answers,
            judge_name=name,
            progress=_progress(bus, f"judging base vs {which}", "prompts"),
        )
    finally:
        del judge  # a whole model: gone before export


def _load_judge(judge: str, base: AnswerSet) -> tuple[Any, Any, str]:
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer

    if judge == "base":
        if not base.model_path:
            raise ValueError(
                "evaluate.multi_turn.judge: 'base' needs the base model's folder, which was not "
                "recorded; set judge to a model folder, or to null for side by side only"
            )
        path, name = Path(base.model_path), f"base ({base.model_path})"
    else:
        path, name = Path(judge).expanduser(), judge
    if not path.exists():
        raise FileNotFoundError(f"evaluate.multi_turn.judge: no model at {path}")
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    return load_model(path, load_config(path)).eval(), tokenizer, name


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
