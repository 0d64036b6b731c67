"""EleutherAI's evaluation harness (lm-eval 0.4) on an already loaded model.

`lm_eval` is an optional extra, imported only inside `run_lm_eval`. The model is handed to
`HFLM` as an instance (nothing is loaded twice); user tasks come from folders of task YAMLs
(`TaskManager(include_path=...)`). Every failure a user can fix becomes an `LmEvalError`
that says how: install the extra, pick a known task name, or give the data locally.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

INSTALL_HINT = "pip install 'scaler-wizard[lm-eval]'"
LOCAL_BUILDERS = {"json", "csv", "parquet", "text", "arrow", "pandas"}  # datasets' file readers
LOCAL_TASK_HINT = (
    "give the data locally: --lm-eval-include DIR with a task YAML in DIR that reads a file, "
    "e.g. `dataset_path: json` and `dataset_kwargs: {data_files: {test: /path/to/test.jsonl}}` "
    "(relative data_files are read from the current directory)"
)
_HUB_NAME = re.compile(r"'([\w.-]+/[\w.-]+)'")
_NETWORK_WORDS = ("Connection", "Offline", "Timeout", "LocalEntryNotFound", "DatasetNotFound")


class LmEvalError(ValueError):
    """lm-eval cannot run as asked; the message says what to do instead."""


class LmEvalResult(BaseModel):
    """Scores per task (lm-eval's metric names, the ",none" filter suffix dropped)."""

    model_config = ConfigDict(frozen=True)

    lm_eval_version: str
    tasks: dict[str, dict[str, float]]
    n_shot: dict[str, int]
    samples: dict[str, int]  # documents scored per task (after --limit)
    higher_is_better: dict[str, dict[str, bool]]
    limit: int | float | None  # documents per task; below 1: a fraction
    num_fewshot: int | None
    include_path: list[str]


def parse_tasks(text: str | Sequence[str]) -> list[str]:
    """ "arc_easy, hellaswag" (or a repeated option) -> ["arc_easy", "hellaswag"]."""
    items = [text] if isinstance(text, str) else list(text)
    tasks = [t.strip() for item in items for t in item.split(",") if t.strip()]
    if not tasks:
        raise LmEvalError("no lm-eval task given; name at least one, e.g. --lm-eval arc_easy")
    return list(dict.fromkeys(tasks))


def require_lm_eval() -> Any:
    """The `lm_eval` module, or an LmEvalError that says how to install it."""
    try:
        # import_module: the harness ships no type information, and is an optional extra.
        lm_eval = importlib.import_module("lm_eval")
        importlib.import_module("lm_eval.models.huggingface")  # its extras are needed too
    except ImportError as exc:
        raise LmEvalError(
            f"lm-eval is not installed ({exc}); install the extra: {INSTALL_HINT}"
        ) from exc
    return lm_eval


def _version(lm_eval: Any) -> str:
    version = getattr(lm_eval, "__version__", None)
    if version:
        return str(version)
    from importlib.metadata import version as installed

    return installed("lm_eval")


def check_include(include_path: Sequence[Path]) -> None:
    for folder in include_path:
        if not folder.is_dir():
            raise LmEvalError(f"--lm-eval-include {folder}: no such folder of task YAMLs")


def task_manager(include_path: Sequence[Path], tasks: Sequence[str]) -> Any:
    """A TaskManager that knows `tasks`; indexing only the user folders is far quicker than
    the ~15k built-in YAMLs, so the built-ins are added only when a task is not found there."""
    task_manager_class = importlib.import_module("lm_eval.tasks").TaskManager
    check_include(include_path)
    paths = [str(p) for p in include_path]
    if paths:
        try:
            local = task_manager_class(include_path=paths, include_defaults=False)
        except TypeError:  # a harness without include_defaults: index everything
            local = None
        if local is not None and all(_known(local, task) for task in tasks):
            return local
    return task_manager_class(include_path=paths or None)


def _known(manager: Any, task: str) -> bool:
    return task in set(manager.all_tasks) or Path(task).is_file()


def check_tasks(manager: Any, tasks: Sequence[str]) -> None:
    """Unknown names fail before any model work, with the closest known names."""
    known = list(manager.all_tasks)
    problems = []
    for task in tasks:
        if _known(manager, task):
            continue
        close = difflib.get_close_matches(task, known, n=5, cutoff=0.6)
        # and names that start alike: "arc" → arc_challenge, arc_easy
        close = list(dict.fromkeys([*close, *sorted(n for n in known if n.startswith(task))]))
        close = close[:5]
        hint = f"close names: {', '.join(close)}" if close else "no similar name"
        problems.append(f"unknown lm-eval task {task!r} ({hint})")
    if problems:
        raise LmEvalError(
            "; ".join(problems)
            + "; list them all with `lm_eval ls tasks`, or give your own with --lm-eval-include DIR"
        )


def _dataset_of(manager: Any, task: str, depth: int = 0) -> list[str]:
    """The hub datasets a task (or a group's tasks) reads, from the harness's task index."""
    entry = getattr(manager, "task_index", {}).get(task)
    config = getattr(entry, "cfg", None) if entry is not None else None
    if config is None and isinstance(entry, Mapping):
        config = entry.get("cfg") or entry.get("config")
    if not isinstance(config, Mapping):
        return []
    path = config.get("dataset_path")
    if isinstance(path, str) and path not in LOCAL_BUILDERS:
        name = config.get("dataset_name")
        return [f"{path} ({name})" if isinstance(name, str) else path]
    children = config.get("task")
    if depth < 3 and isinstance(children, list):
        found: list[str] = []
        for child in children:
            if isinstance(child, str):
                found += _dataset_of(manager, child, depth + 1)
        return list(dict.fromkeys(found))
    return []


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10 and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def data_error(exc: BaseException, manager: Any, tasks: Sequence[str]) -> LmEvalError | None:
    """An actionable error when `exc` means the task data is not available here, else None."""
    chain = _causes(exc)
    text = " ".join(f"{type(e).__name__}: {e}" for e in chain)
    network = any(word in type(e).__name__ for e in chain for word in _NETWORK_WORDS) or any(
        phrase in text.lower() for phrase in ("couldn't reach", "offline", "hub is unreachable")
    )
    missing_file = any(isinstance(e, FileNotFoundError) for e in chain) or (
        "unable to find" in text.lower()
    )
    if not (network or missing_file):
        return None
    detail = str(chain[0])[:300]
    if network:
        needed = list(dict.fromkeys(_HUB_NAME.findall(text)))
        for task in tasks:
            needed += [d for d in _dataset_of(manager, task) if d not in needed]
        which = f"dataset {', '.join(needed)}" if needed else "a dataset from the Hugging Face hub"
        return LmEvalError(
            f"lm-eval task(s) {', '.join(tasks)} need {which}, which is not in the local cache, "
            f"and the Hugging Face hub is unreachable ({detail}); run once with network access "
            f"to cache it, or {LOCAL_TASK_HINT}"
        )
    return LmEvalError(
        f"lm-eval task(s) {', '.join(tasks)}: a data file is missing ({detail}); check the "
        f"task YAML's data_files (relative paths are read from the current directory: use "
        f"absolute ones)"
    )


def _scores(values: Mapping[str, Any]) -> dict[str, float]:
    """Numeric metrics only ("N/A" stderr and aliases dropped); "acc,none" becomes "acc"."""
    out: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key in ("sample_len", "sample_count"):
            continue
        out[key.removesuffix(",none")] = float(value)
    return out


def run_lm_eval(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[str],
    *,
    include_path: Sequence[Path] = (),
    limit: float | None = None,
    num_fewshot: int | None = None,
    batch_size: int = 4,
) -> LmEvalResult:
    """Run lm-eval `tasks` on a loaded model and tokenizer; scores per task.

    `limit` caps the documents per task (a float below 1 is a fraction, as in lm-eval).
    """
    if not tasks:
        raise LmEvalError("no lm-eval task given")
    if limit is not None and limit <= 0:
        raise LmEvalError(f"--lm-eval-limit must be positive, got {limit}")
    lm_eval = require_lm_eval()
    hflm = importlib.import_module("lm_eval.models.huggingface").HFLM

    manager = task_manager(list(include_path), tasks)
    check_tasks(manager, tasks)
    was_training = bool(model.training)
    try:
        wrapped = hflm(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
        try:
            results = lm_eval.simple_evaluate(
                model=wrapped,
                tasks=list(tasks),
                num_fewshot=num_fewshot,
                limit=limit,
                task_manager=manager,
                log_samples=False,
            )
        except Exception as exc:  # the harness and datasets raise many types
            error = data_error(exc, manager, tasks)
            if error is not None:
                raise error from exc
            raise
    finally:
        model.train(was_training)  # HFLM switches the model to eval mode
    if not results:
        raise LmEvalError("lm-eval returned no results (not the main process?)")
    scores = {name: _scores(values) for name, values in results.get("results", {}).items()}
    for name, values in (results.get("groups") or {}).items():
        scores.setdefault(name, _scores(values))
    samples = {
        name: int(counts.get("effective", counts.get("original", 0)))
        for name, counts in (results.get("n-samples") or {}).items()
        if isinstance(counts, Mapping)
    }
    return LmEvalResult(
        lm_eval_version=_version(lm_eval),
        tasks=scores,
        n_shot={k: int(v) for k, v in (results.get("n-shot") or {}).items()},
        samples=samples,
        higher_is_better={
            k: {m: bool(b) for m, b in v.items() if b is not None}
            for k, v in (results.get("higher_is_better") or {}).items()
        },
        limit=limit,
        num_fewshot=num_fewshot,
        include_path=[str(p) for p in include_path],
    )
