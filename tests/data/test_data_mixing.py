"""Weighted mixing of several sources: shares, determinism, the held-out split per source,
repeats only when allowed, cross-source dedup, the report and the fingerprint."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat, write_jsonl
from pydantic import ValidationError

from scaler_wizard.data import DataError, PreparedData, prepare_data
from scaler_wizard.data.mixing import allocate, mix_size
from scaler_wizard.recipe.spec import DataSpec
from tiny_models import instruction_records


@pytest.mark.parametrize(
    ("total", "weights", "counts"),
    [
        (10, [1, 1], [5, 5]),
        (10, [0.7, 0.3], [7, 3]),
        (7, [1, 1], [4, 3]),  # the remainder goes to the earlier source on a tie
        (5, [1, 1, 1], [2, 2, 1]),
        (3, [0.1, 0.9], [0, 3]),
        (0, [1, 2], [0, 0]),
    ],
)
def test_allocate_splits_exactly(total: int, weights: list[float], counts: list[int]) -> None:
    assert allocate(total, weights) == counts


@pytest.mark.parametrize(
    ("available", "weights", "size"),
    [([100, 100], [1, 1], 200), ([100, 10], [1, 1], 20), ([30, 10], [0.75, 0.25], 40),
     ([7, 100], [0.5, 0.5], 14)],
)  # fmt: skip
def test_default_mix_size_repeats_nothing(
    available: list[int], weights: list[float], size: int
) -> None:
    assert mix_size(available, weights) == size
    assert all(c <= n for c, n in zip(allocate(size, weights), available, strict=True))


def stdlib_file(folder: Path, count: int) -> Path:
    return write_jsonl(folder, instruction_records(count), "stdlib.jsonl")


def arithmetic_file(folder: Path, count: int) -> Path:
    records = [chat(f"What is {i} + {i}?", f"It is {2 * i}.") for i in range(count)]
    return write_jsonl(folder, records, "arithmetic.jsonl")


def mix(tmp_path: Path, tokenizer: Any, **extra: Any) -> PreparedData:
    sources = [
        {"path": str(stdlib_file(tmp_path, 80)), "weight": 0.75, "name": "stdlib"},
        {"path": str(arithmetic_file(tmp_path, 60)), "weight": 0.25, "name": "arithmetic"},
    ]
    fields = {"sources": sources, "eval_records": 8, "seq_length": 512, **extra}
    return prepare_data(DataSpec(**fields), tokenizer)


def test_sources_are_mixed_by_weight_and_reported(tmp_path: Path, tiny_tokenizer: Any) -> None:
    data = mix(tmp_path, tiny_tokenizer)
    assert data.report is not None
    rows = {m["name"]: m for m in data.report.mix}
    # eval: 8 records split 6/2 by weight; stdlib (74 left) is the scarce one at 0.75
    assert rows["stdlib"]["available"] == 74 and rows["arithmetic"]["available"] == 58
    assert (rows["stdlib"]["sampled"], rows["arithmetic"]["sampled"]) == (74, 24)
    assert (rows["stdlib"]["passes"], rows["arithmetic"]["passes"]) == (1, 0)  # whole passes
    assert data.stats.train_examples == 98 and data.stats.eval_examples == 8
    assert data.stats.format == "messages"
    fields = [s["field"] for s in data.report.sources]
    assert fields == ["data.sources[0].path", "data.sources[1].path"]


def test_mixing_is_deterministic_and_seeded(tmp_path: Path, tiny_tokenizer: Any) -> None:
    first, again = mix(tmp_path, tiny_tokenizer), mix(tmp_path, tiny_tokenizer)
    assert first.fingerprint == again.fingerprint
    assert [r.input_ids for r in first.train_rows] == [r.input_ids for r in again.train_rows]
    other = mix(tmp_path, tiny_tokenizer, seed=1)
    assert other.fingerprint != first.fingerprint
    assert {tuple(r.input_ids) for r in other.eval_rows} != {
        tuple(r.input_ids) for r in first.eval_rows
    }


def test_held_out_records_are_never_in_the_mix(tmp_path: Path, tiny_tokenizer: Any) -> None:
    data = mix(tmp_path, tiny_tokenizer, mix={"records": 200, "replacement": True})
    train_docs = {tuple(r.input_ids[: r.lengths[0]]) for r in data.train_rows}
    for row in data.eval_rows:
        for start, length in zip(
            [sum(row.lengths[:i]) for i in range(len(row.lengths))], row.lengths, strict=True
        ):
            assert tuple(row.input_ids[start : start + length]) not in train_docs


def test_more_records_than_a_source_holds_needs_replacement(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    with pytest.raises(DataError) as caught:
        mix(tmp_path, tiny_tokenizer, mix={"records": 200})
    assert str(caught.value) == (
        "data.mix.records: source 'stdlib' holds 74 train record(s) after transforms and the "
        "held-out split, but its weight asks for 150 of 200; lower data.mix.records (at most "
        "98 without repeats) or set data.mix.replacement: true"
    )
    data = mix(tmp_path, tiny_tokenizer, mix={"records": 200, "replacement": True})
    assert data.report is not None
    rows = {m["name"]: (m["sampled"], m["passes"]) for m in data.report.mix}
    assert rows == {"stdlib": (150, 2), "arithmetic": (50, 0)}
    assert data.stats.train_examples == 200


def test_transforms_see_every_source_at_once(tmp_path: Path, tiny_tokenizer: Any) -> None:
    shared = chat("What does `zip` do?", "It pairs items.")
    first = write_jsonl(tmp_path, [shared, *[chat(f"A{i}", f"a{i}") for i in range(5)]], "a.jsonl")
    second = write_jsonl(tmp_path, [shared, *[chat(f"B{i}", f"b{i}") for i in range(5)]], "b.jsonl")
    spec = DataSpec(
        sources=[{"path": str(first)}, {"path": str(second)}],
        transforms=[{"name": "dedup_exact"}],
        eval_records=2,
        seq_length=128,
    )
    data = prepare_data(spec, tiny_tokenizer)
    assert data.report is not None
    (step,) = data.report.transforms
    assert (step["source"], step["records_in"], step["records_out"]) == ("data.sources", 12, 11)
    assert [m["available"] for m in data.report.mix] == [5, 4]  # the copy went from b.jsonl


def test_fingerprint_covers_weights_and_mix(tmp_path: Path, tiny_tokenizer: Any) -> None:
    base = mix(tmp_path, tiny_tokenizer).fingerprint
    assert mix(tmp_path, tiny_tokenizer, mix={"records": 50}).fingerprint != base
    a, b = stdlib_file(tmp_path, 80), arithmetic_file(tmp_path, 60)
    reweighted = DataSpec(
        sources=[{"path": str(a), "weight": 0.5, "name": "stdlib"},
                 {"path": str(b), "weight": 0.5, "name": "arithmetic"}],
        eval_records=8, seq_length=512,
    )  # fmt: skip
    assert prepare_data(reweighted, tiny_tokenizer).fingerprint != base


def test_sources_and_train_are_exclusive_and_names_unique(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    for fields in ({}, {"train": "a.jsonl", "sources": [{"path": "b.jsonl"}]}):
        with pytest.raises(ValidationError, match=r"give either data\.train"):
            DataSpec(**fields)
    with pytest.raises(ValidationError, match="weight"):
        DataSpec(sources=[{"path": "a.jsonl", "weight": 0}])
    path = str(arithmetic_file(tmp_path, 10))
    twice = DataSpec(sources=[{"path": path}, {"path": path}], eval_records=1)
    with pytest.raises(DataError, match=r"^data\.sources\[1\]\.name: two sources are called"):
        prepare_data(twice, tiny_tokenizer)


def test_a_scarce_source_names_itself_in_the_split_error(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    small = write_jsonl(tmp_path, [chat("Q", "A")], "small.jsonl")
    spec = DataSpec(
        sources=[{"path": str(arithmetic_file(tmp_path, 20))}, {"path": str(small)}],
        eval_records=4,
    )
    with pytest.raises(DataError) as caught:
        prepare_data(spec, tiny_tokenizer)
    assert str(caught.value) == (
        f"data.sources[1].path: {small}: found 1 record(s); need at least 3 (2 of "
        "data.eval_records=4 held out by its weight + 1 to train): add records, lower "
        "data.eval_records or name a data.eval file"
    )


def test_per_source_formats(tmp_path: Path, tiny_tokenizer: Any) -> None:
    completions = [{"prompt": f"{i} + {i} =", "completion": f" {2 * i}"} for i in range(10)]
    spec = DataSpec(
        sources=[
            {"path": str(arithmetic_file(tmp_path, 10)), "name": "chat"},
            {"path": str(write_jsonl(tmp_path, completions, "c.jsonl")), "format": "completion"},
        ],
        eval_records=2,
        seq_length=128,
    )
    data = prepare_data(spec, tiny_tokenizer)
    assert data.stats.format == "mixed"
    assert data.report is not None
    assert Counter(s["format"] for s in data.report.sources) == {"messages": 1, "completion": 1}


def test_plan_checks_every_source(tmp_path: Path) -> None:
    from scaler_wizard.catalog import build_catalog
    from scaler_wizard.pipeline.plan import check_data_files
    from scaler_wizard.recipe import Recipe, RecipeError

    present = arithmetic_file(tmp_path, 4)
    sources = [{"path": str(present)}, {"path": str(tmp_path / "absent.jsonl")}]
    recipe = Recipe(schema_version=1, name="mix", data={"sources": sources})
    with pytest.raises(RecipeError) as caught:
        check_data_files(recipe, build_catalog(load_plugins=False))
    (problem,) = caught.value.problems
    assert (problem.path, problem.message) == (
        "data.sources[1].path",
        f"file not found: {tmp_path / 'absent.jsonl'}",
    )
    ok = Recipe(schema_version=1, name="mix", data={"sources": sources[:1] * 2})
    assert check_data_files(ok, build_catalog(load_plugins=False)) == f"{present}, {present}"
