"""`scaler-wizard eval`: measure any model folder or a run's merged model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaler_wizard.artifacts.run_folder import RunFolder, find_run

if TYPE_CHECKING:
    from rich.console import Console

    from scaler_wizard.evaluate.lm_eval_bridge import LmEvalResult
    from scaler_wizard.evaluate.long_ppl import LongPplResult

LONG_PPL_FILE, NEEDLE_FILE, HEATMAP_FILE = "long_ppl.json", "needle.json", "needle_heatmap.png"
MULTI_TURN_FILE, ADHERENCE_FILE = "multi_turn.json", "template_adherence.json"
LM_EVAL_FILE = "lm_eval.json"


@dataclass
class LongContextOptions:
    """What `--long-doc`, `--needle-*` ask for; empty lists switch a measurement off."""

    documents: list[Path] = field(default_factory=list)
    max_length: int | None = None  # default: the model's window
    bucket_size: int = 1024
    stride: int | None = None
    window: int | None = None
    needle_lengths: list[int] = field(default_factory=list)
    needle_depths: list[float] | None = None  # fractions; default: needle.DEFAULT_DEPTHS
    needle_trials: int = 1
    out_dir: Path | None = None

    @property
    def wanted(self) -> bool:
        return bool(self.documents or self.needle_lengths)


@dataclass
class ChatOptions:
    """What `--conversations` asks for: loss per assistant turn and template adherence."""

    conversations: Path
    max_conversations: int = 16
    max_new_tokens: int = 64


@dataclass
class LmEvalOptions:
    """What `--lm-eval` asks for: lm-eval tasks, user task folders, documents per task."""

    tasks: list[str]
    include: list[Path] = field(default_factory=list)
    limit: float | None = None
    num_fewshot: int | None = None
    batch_size: int = 4


@dataclass
class EvalReport:
    metrics: dict[str, Any]
    long_ppl: LongPplResult | None = None
    lm_eval: LmEvalResult | None = None


def parse_int_list(text: str | None) -> list[int]:
    """ "1024,2048" -> [1024, 2048]; a ValueError names the bad item."""
    return [int(item) for item in _items(text)]


def parse_depth_percents(text: str | None) -> list[float] | None:
    """ "0,50,100" (percent) -> [0.0, 0.5, 1.0]; None when not given."""
    if text is None:
        return None
    depths = [float(item) / 100 for item in _items(text)]
    if not depths or any(not 0.0 <= depth <= 1.0 for depth in depths):
        raise ValueError(f"needle depths are percentages within 0..100, got {text!r}")
    return depths


def _items(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def resolve_model(model_ref: str) -> tuple[Path, RunFolder | None]:
    """A model folder as given, or a run id's merged model (and the run, for its eval/ folder)."""
    path = Path(model_ref).expanduser()
    if path.is_dir():
        return path, None
    run = find_run(model_ref)
    if not run.model.is_dir():
        raise FileNotFoundError(f"run {model_ref} has no merged model (was it completed?)")
    return run.model, run


def default_out_dir(run: RunFolder | None) -> Path:
    """The run's eval/ folder, else a fresh timestamped folder in the current directory."""
    if run is not None:
        return run.path / "eval"
    return Path.cwd() / f"eval-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def evaluate_model(
    model_ref: str,
    data: Path | None,
    passkey_lengths: list[int],
    trials: int,
    records: int,
    long_context: LongContextOptions | None = None,
    chat: ChatOptions | None = None,
    lm_eval: LmEvalOptions | None = None,
) -> EvalReport:
    from scaler_wizard.context.self_extend import patch_from_config
    from scaler_wizard.data import prepare_data
    from scaler_wizard.evaluate.held_out import evaluate_held_out
    from scaler_wizard.evaluate.passkey import run_passkey
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import DataSpec, TokenizerSpec

    path, run = resolve_model(model_ref)
    if lm_eval is not None:  # a missing extra or folder fails before the model is loaded
        from scaler_wizard.evaluate.lm_eval_bridge import check_include, require_lm_eval

        require_lm_eval()
        check_include(lm_eval.include)
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    model = load_model(path, load_config(path)).eval()
    patch_from_config(model)  # a training-free engine (Self-Extend) recorded in the config
    metrics: dict[str, Any] = {"model": str(path)}
    if data is not None:
        # The same seeded split as training: `records` held-out records are scored.
        spec = DataSpec(train=str(data), eval_records=records, max_records=None, seq_length=2048)
        prepared = prepare_data(spec, tokenizer)
        held = evaluate_held_out(model, prepared.eval_rows)
        metrics.update(
            eval_loss=held.loss,
            eval_perplexity=held.perplexity,
            eval_label_tokens=held.label_tokens,
        )
    if passkey_lengths:
        result = run_passkey(model, tokenizer, passkey_lengths, trials)
        metrics["passkey"] = {str(r.length): r.accuracy for r in result.lengths}
    report = EvalReport(metrics)
    chosen = long_context.out_dir if long_context is not None else None
    out_dir = chosen or default_out_dir(run)
    files: list[str] = []
    if long_context is not None and long_context.wanted:
        report.long_ppl = _long_context(model, tokenizer, long_context, out_dir, metrics, files)
    if chat is not None:
        _chat(model, tokenizer, chat, out_dir, metrics, files)
    if lm_eval is not None:
        report.lm_eval = _lm_eval(model, tokenizer, lm_eval, out_dir, metrics, files)
        if run is not None:
            record_lm_eval(run, report.lm_eval, out_dir / LM_EVAL_FILE)
    if files:
        metrics["files"] = files
    return report


def _chat(
    model: Any,
    tokenizer: Any,
    options: ChatOptions,
    out_dir: Path,
    metrics: dict[str, Any],
    files: list[str],
) -> None:
    """Loss per assistant turn and template adherence of the conversations of a file."""
    from scaler_wizard.evaluate.long_ppl import model_window
    from scaler_wizard.evaluate.multi_turn import (
        evaluate_turns,
        read_conversations,
        tokenize_conversations,
    )
    from scaler_wizard.evaluate.template_adherence import evaluate_adherence

    examples = read_conversations(
        options.conversations, "--conversations", options.max_conversations
    )
    conversations = tokenize_conversations(tokenizer, examples, model_window(model) or 4096)
    if not conversations:
        raise ValueError(
            f"--conversations {options.conversations}: no conversation has an assistant reply "
            "left after tokenizing"
        )
    turns = evaluate_turns(model, conversations)
    adherence = evaluate_adherence(
        model, tokenizer, conversations, max_new_tokens=options.max_new_tokens
    )
    files.append(_write_json(out_dir / MULTI_TURN_FILE, turns.model_dump(mode="json")))
    files.append(_write_json(out_dir / ADHERENCE_FILE, adherence.model_dump(mode="json")))
    metrics["multi_turn"] = {
        "loss": turns.loss,
        "perplexity": turns.perplexity,
        "conversations": turns.conversations,
        "replies": turns.replies,
        "loss_by_turn": turns.loss_by_turn(),
        "perplexity_by_turn": turns.perplexity_by_turn(),
    }
    metrics["template_adherence"] = {
        "replies": adherence.prompts,
        "stop_rate": adherence.stop_rate,
        "leak_rate": adherence.leak_rate,
        "adherence_rate": adherence.adherence_rate,
    }


def _lm_eval(
    model: Any,
    tokenizer: Any,
    options: LmEvalOptions,
    out_dir: Path,
    metrics: dict[str, Any],
    files: list[str],
) -> LmEvalResult:
    from scaler_wizard.evaluate.lm_eval_bridge import run_lm_eval

    result = run_lm_eval(
        model,
        tokenizer,
        options.tasks,
        include_path=options.include,
        limit=options.limit,
        num_fewshot=options.num_fewshot,
        batch_size=options.batch_size,
    )
    files.append(_write_json(out_dir / LM_EVAL_FILE, result.model_dump(mode="json")))
    metrics["lm_eval"] = result.tasks
    return result


def record_lm_eval(run: RunFolder, result: LmEvalResult, file: Path) -> None:
    """Keep the scores with the artifact: the run's manifest (tasks scored earlier stay) and,
    when the run has one, its model card."""
    from scaler_wizard.pipeline.export import write_model_card

    manifest_path = run.path / "manifest.json"
    manifest: dict[str, Any] = (
        run.read_manifest() if manifest_path.is_file() else {"run_id": run.run_id}
    )
    recorded: dict[str, Any] = dict(manifest.get("lm_eval") or {})
    recorded.update(
        lm_eval_version=result.lm_eval_version,
        tasks={**(recorded.get("tasks") or {}), **result.tasks},
        n_shot={**(recorded.get("n_shot") or {}), **result.n_shot},
        samples={**(recorded.get("samples") or {}), **result.samples},
        limit=result.limit,
        file=str(file.relative_to(run.path)) if file.is_relative_to(run.path) else str(file),
    )
    manifest["lm_eval"] = recorded
    run.write_manifest(manifest)
    if (run.path / "README.md").is_file():
        write_model_card(run, manifest)


def _long_context(
    model: Any,
    tokenizer: Any,
    options: LongContextOptions,
    out_dir: Path,
    metrics: dict[str, Any],
    files: list[str],
) -> LongPplResult | None:
    """Long-document perplexity and the needle grid; their JSON and heatmap go to `out_dir`."""
    from scaler_wizard.evaluate.long_ppl import evaluate_long_documents, model_window
    from scaler_wizard.evaluate.needle import DEFAULT_DEPTHS, run_needle
    from scaler_wizard.evaluate.plots import plot_needle_heatmap

    for document in options.documents:
        if not document.is_file():
            raise FileNotFoundError(f"long document {document} does not exist")
    long_ppl = None
    if options.documents:
        max_length = options.max_length or model_window(model)
        if max_length is None:
            raise ValueError("the model states no window: give --max-length")
        long_ppl = evaluate_long_documents(
            model,
            tokenizer,
            options.documents,
            max_length=max_length,
            bucket_size=options.bucket_size,
            stride=options.stride,
            window=options.window,
        )
        files.append(_write_json(out_dir / LONG_PPL_FILE, long_ppl.model_dump(mode="json")))
        metrics["long_ppl"] = {
            "perplexity": long_ppl.perplexity,
            "loss": long_ppl.loss,
            "scored_tokens": long_ppl.scored_tokens,
            "truncated_perplexity": long_ppl.perplexity_by_length(),
        }
    if options.needle_lengths:
        needle = run_needle(
            model,
            tokenizer,
            options.needle_lengths,
            options.needle_depths or DEFAULT_DEPTHS,
            documents=options.documents,
            trials=options.needle_trials,
        )
        files.append(_write_json(out_dir / NEEDLE_FILE, needle.model_dump(mode="json")))
        files.append(str(plot_needle_heatmap(needle, out_dir / HEATMAP_FILE)))
        metrics["needle"] = {"accuracy": needle.accuracy, "by_length": needle.accuracy_table()}
    return long_ppl


def _write_json(path: Path, data: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return str(path)


def render_long_ppl(console: Console, result: LongPplResult, documents: Sequence[Path]) -> None:
    """Per-bucket and truncated perplexity; the truncated column is what papers plot."""
    from rich.table import Table

    mode = (
        "one pass" if result.stride is None else f"window {result.window}, stride {result.stride}"
    )
    table = Table(
        "positions",
        "tokens",
        "bucket PPL",
        "truncated PPL",
        title=f"Long-document perplexity ({len(documents)} document(s), {mode})",
    )
    for bucket in result.buckets:
        table.add_row(
            f"{bucket.start:,}–{bucket.end:,}",
            f"{bucket.tokens:,}",
            f"{bucket.perplexity:.3f}",
            f"{bucket.cumulative_perplexity:.3f}",
        )
    window = result.model_window
    caption = f"overall PPL {result.perplexity:.3f}"
    if window is not None and result.window > window:
        caption += f"; positions past the model window ({window:,}) are extrapolation"
    table.caption = caption
    console.print(table)
