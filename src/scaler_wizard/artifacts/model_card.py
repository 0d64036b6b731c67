"""A Hugging Face-style README.md (model card) rendered from a run's manifest.

Pure text from a dict: every manifest key is optional and a section appears only when its data
exists, so a failed or partial run still gets an honest card.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

# The embedded model is the GGUF of this hub repo; the card links the hub id, not "embedded".
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FILE_NOTES = {
    "README.md": "this model card",
    "config.json": "model configuration, final RoPE parameters included",
    "generation_config.json": "default generation settings",
    "model.safetensors": "merged weights: base plus everything grown",
    "tokenizer.json": "tokenizer",
    "tokenizer_config.json": "tokenizer settings and chat template",
    "special_tokens_map.json": "special tokens",
    "chat_template.jinja": "chat template",
    "adapter": "the trained adapter alone (PEFT format)",
    "adapter_config.json": "adapter configuration (PEFT)",
    "adapter_model.safetensors": "adapter weights (PEFT)",
    "manifest.json": "everything this card is rendered from",
    "recipe.yaml": "the recipe that produced this model",
    "events.jsonl": "the run's event log",
    "plots": "loss curve and base-vs-grown charts",
}


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _count(value: Any) -> str:
    """134515008 → '134,515,008 (134.5M)': exact for diffing, short for reading."""
    if not isinstance(value, int):
        return "–" if value is None else str(value)
    short = f"{value / 1e9:.2f}B" if value >= 1e9 else f"{value / 1e6:.1f}M"
    return f"{value:,} ({short})"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _delta(
    before: float | None, after: float | None, spec: str, scale: float = 1.0, unit: str = ""
) -> str:
    if before is None or after is None:
        return "–"
    return format((after - before) * scale, spec) + unit


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def base_model_id(base: Mapping[str, Any]) -> str | None:
    """The hub id of the base model, or None when it came from a local path or file."""
    source = str(base.get("source") or "")
    if source == "embedded":
        return EMBEDDED_HUB_ID
    for candidate in (source, str(base.get("name") or "")):
        if _HUB_ID.match(candidate) and not candidate.endswith(".gguf"):
            return candidate
    return None


def _front_matter(manifest: Mapping[str, Any]) -> str:
    tags = ["scaler-wizard"]
    tags += [str(step["strategy"]) for step in manifest.get("growth", []) if "strategy" in step]
    engine = (manifest.get("context") or {}).get("engine")
    if engine and engine not in ("none", "auto"):
        tags += [str(engine), "long-context"]
    meta: dict[str, Any] = {}
    base_id = base_model_id(manifest.get("base_model") or {})
    if base_id:
        meta["base_model"] = base_id
    meta["library_name"] = "transformers"
    meta["tags"] = list(dict.fromkeys(tags))  # dedupe, keep order
    meta["pipeline_tag"] = "text-generation"
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---"


def _intro(manifest: Mapping[str, Any]) -> str:
    base = manifest.get("base_model") or {}
    name = manifest.get("recipe_name") or manifest.get("run_id") or "grown model"
    lines = [f"# {name}", ""]
    base_name = base.get("name") or base.get("source")
    origin = f" from **{base_name}**" if base_name else ""
    lines.append(f"Grown{origin} with Scaler Wizard.")
    facts = [
        ("Run", manifest.get("run_id")),
        ("Recipe", manifest.get("recipe_name")),
        ("Created", manifest.get("created")),
        ("Base parameters", _count(base["parameters"]) if "parameters" in base else None),
    ]
    lines += [""] + [f"- **{label}:** {value}" for label, value in facts if value is not None]
    return "\n".join(lines)


def _growth(manifest: Mapping[str, Any]) -> str | None:
    steps = manifest.get("growth")
    if not steps:
        return None
    rows = [
        [
            step.get("strategy", "?"),
            step.get("options") or {},
            _count(step.get("parameters_before")),
            _count(step.get("parameters_after")),
            _count(step.get("trainable")),
        ]
        for step in steps
    ]
    headers = ["Strategy", "Options", "Parameters before", "Parameters after", "Trainable"]
    return "## What was grown\n\nStrategies, applied in order:\n\n" + _table(headers, rows)


def _context(manifest: Mapping[str, Any]) -> str | None:
    context = manifest.get("context")
    if not context:
        return None
    lines = ["## Context window", ""]
    native, target = context.get("native_length"), context.get("target_length")
    if native and target:
        lines.append(f"- **Window:** {native:,} → {target:,} tokens")
    if context.get("engine"):
        lines.append(f"- **Engine:** {context['engine']}")
    if context.get("factor") is not None:
        lines.append(f"- **Factor:** {context['factor']}")
    if context.get("rope_after"):
        rope = json.dumps(context["rope_after"], indent=2, sort_keys=True, default=str)
        lines += [
            "",
            "Final RoPE parameters (already in `config.json`):",
            "",
            "```json",
            rope,
            "```",
        ]
    return "\n".join(lines)


def _data(manifest: Mapping[str, Any]) -> str | None:
    data = manifest.get("data")
    if not data:
        return None
    lines = ["## Data", ""]
    for label, key in (("Source", "train"), ("Format", "format"), ("Fingerprint", "fingerprint")):
        if data.get(key) is not None:
            lines.append(f"- **{label}:** `{data[key]}`")
    stats = data.get("stats") or {}
    if stats:
        lines += ["", _table(["Statistic", "Value"], [[k, v] for k, v in stats.items()])]
    return "\n".join(lines)


def _training(manifest: Mapping[str, Any]) -> str | None:
    train = manifest.get("train")
    if not train:
        return None
    rows = [
        ("Optimizer steps", train.get("steps")),
        ("Learning rate", train.get("learning_rate")),
        ("Batch size", train.get("batch_size")),
        ("Sequence length", train.get("seq_length")),
        ("Duration", _duration(train["duration_s"]) if "duration_s" in train else None),
        (
            "Throughput",
            f"{train['tokens_per_s']:,.0f} tokens/s" if "tokens_per_s" in train else None,
        ),
    ]
    present = [[label, value] for label, value in rows if value is not None]
    return "## Training\n\n" + _table(["Setting", "Value"], present) if present else None


def _results(manifest: Mapping[str, Any]) -> str | None:
    metrics = manifest.get("metrics") or {}
    base, grown = metrics.get("base") or {}, metrics.get("grown") or {}
    rows: list[list[Any]] = []
    for label, key, digits in (
        ("Held-out loss (nats/token)", "eval_loss", 4),
        ("Held-out perplexity", "eval_perplexity", 3),
    ):
        before, after = base.get(key), grown.get(key)
        if before is None and after is None:
            continue
        delta = _delta(before, after, f"+.{digits}f")
        rows.append([label, _number(before, digits), _number(after, digits), delta])
    passkey_base, passkey_grown = base.get("passkey") or {}, grown.get("passkey") or {}
    for length in sorted({*passkey_base, *passkey_grown}, key=int):
        before, after = passkey_base.get(length), passkey_grown.get(length)
        delta = _delta(before, after, "+.0f", scale=100.0, unit=" pp")  # percentage points
        label = f"Passkey accuracy @ {int(length):,} tokens"
        rows.append([label, _percent(before), _percent(after), delta])
    if not rows:
        return None
    return "## Results\n\n" + _table(["Metric", "Base", "Grown", "Δ (grown − base)"], rows)


def _chat_quality(manifest: Mapping[str, Any]) -> str | None:
    """Per-turn loss, template adherence and the judged comparison (evaluate.multi_turn)."""
    metrics = manifest.get("metrics") or {}
    base, grown = metrics.get("base") or {}, metrics.get("grown") or {}
    if "multi_turn_loss" not in grown and "judged_win_rate" not in grown:
        return None
    rows: list[list[Any]] = []
    if "multi_turn_loss" in base or "multi_turn_loss" in grown:
        rows.append(
            [
                "Loss, all assistant turns",
                _number(base.get("multi_turn_loss"), 4),
                _number(grown.get("multi_turn_loss"), 4),
            ]
        )
    turns_base = (base.get("multi_turn") or {}).get("loss_by_turn") or {}
    turns_grown = (grown.get("multi_turn") or {}).get("loss_by_turn") or {}
    for turn in sorted({*turns_base, *turns_grown}, key=int):
        rows.append(
            [
                f"Loss, assistant turn {turn}",
                _number(turns_base.get(turn), 4),
                _number(turns_grown.get(turn), 4),
            ]
        )
    for label, key in (
        ("Replies that end their turn", "template_stop_rate"),
        ("Replies that leak template text", "template_leak_rate"),
    ):
        if key in base or key in grown:
            rows.append([label, _percent(base.get(key)), _percent(grown.get(key))])
    lines = ["## Multi-turn chat", ""]
    if rows:
        lines += [
            "Held-out conversations, loss in nats per reply token; replies generated greedily.",
            "",
            _table(["Metric", "Base", "Grown"], rows),
        ]
    judged = grown.get("judged") or {}
    if grown.get("judged_win_rate") is not None:
        total = sum(int(judged.get(k) or 0) for k in ("grown_wins", "base_wins", "ties"))
        lines += [
            "",
            f"Judged on {total} fixed prompts (both answer orders): grown wins "
            f"{judged.get('grown_wins', '–')}, base wins {judged.get('base_wins', '–')}, ties "
            f"{judged.get('ties', '–')}; win rate {_percent(grown['judged_win_rate'])} "
            "(ties count half). Answers side by side: `eval/judged_comparison_grown.md`.",
        ]
    return "\n".join(lines)


def _lm_eval(manifest: Mapping[str, Any]) -> str | None:
    """Scores of `scaler-wizard eval RUN --lm-eval TASK` (EleutherAI's harness)."""
    recorded = manifest.get("lm_eval") or {}
    tasks = recorded.get("tasks") or {}
    if not tasks:
        return None
    rows: list[list[Any]] = []
    for task in sorted(tasks):
        scores = tasks[task] or {}
        for metric in sorted(k for k in scores if not k.endswith("_stderr")):
            value, error = scores[metric], scores.get(f"{metric}_stderr")
            shown = _number(value, 4) + (f" ± {error:.4f}" if error is not None else "")
            rows.append([task, metric, shown])
    facts = [f"lm-eval {recorded.get('lm_eval_version', '?')}"]
    if recorded.get("limit") is not None:
        facts.append(f"at most {recorded['limit']} documents per task")
    if recorded.get("file"):
        facts.append(f"details in `{recorded['file']}`")
    return (
        "## lm-eval scores\n\n"
        + "; ".join(facts)
        + ".\n\n"
        + _table(["Task", "Metric", "Score"], rows)
    )


def _usage(files: list[str], exports: Mapping[str, Any]) -> str:
    if exports.get("merged_skipped"):
        return "\n".join(
            [
                "## How to load",
                "",
                f"The grown model exists only as an adapter: {exports['merged_skipped']}",
                "",
                "```python",
                "from peft import AutoPeftModelForCausalLM",
                "from transformers import AutoTokenizer",
                "",
                'model = AutoPeftModelForCausalLM.from_pretrained("adapter")  # next to this card',
                'tokenizer = AutoTokenizer.from_pretrained("adapter")',
                "```",
            ]
        )
    lines = [
        "## How to load",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        'path = "model"  # the merged model folder next to this card',
        "model = AutoModelForCausalLM.from_pretrained(path)",
        "tokenizer = AutoTokenizer.from_pretrained(path)",
        "```",
        "",
        "Context scaling, if any, is stored in `config.json`: no extra code is needed.",
    ]
    if any(name.rstrip("/").split("/")[0] == "adapter" for name in files):
        lines.append(
            "The adapter alone is in `adapter/` (load with `peft.PeftModel.from_pretrained`)."
        )
    return "\n".join(lines)


def _files(files: list[str]) -> str | None:
    if not files:
        return None
    items = []
    for name in files:
        parts = name.strip("/").split("/")  # "plots/loss.png" falls back to the note on "plots"
        note = FILE_NOTES.get(parts[-1]) or FILE_NOTES.get(parts[0])
        items.append(f"- `{name}`" + (f": {note}" if note else ""))
    return "## Files\n\n" + "\n".join(items)


def _versions(manifest: Mapping[str, Any]) -> str | None:
    versions = manifest.get("versions")
    if not versions:
        return None
    return "## Software\n\n" + "\n".join(f"- {name} {v}" for name, v in versions.items())


def render_model_card(manifest: Mapping[str, Any], *, files: Iterable[str] | None = None) -> str:
    """README.md text for a grown model; `files` (default: manifest["files"]) lists the folder."""
    listed = [str(name) for name in (files if files is not None else manifest.get("files") or [])]
    sections = [
        _front_matter(manifest),
        _intro(manifest),
        _growth(manifest),
        _context(manifest),
        _data(manifest),
        _training(manifest),
        _results(manifest),
        _chat_quality(manifest),
        _lm_eval(manifest),
        _usage(listed, manifest.get("exports") or {}),
        _files(listed),
        _versions(manifest),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"
