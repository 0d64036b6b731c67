"""Every transform, table-tested: kept and dropped counts with reasons; composition; errors."""

from __future__ import annotations

from typing import Any

import pytest

from scaler_wizard.catalog import build_catalog
from scaler_wizard.data import DataError, default_transforms
from scaler_wizard.data.formats import Example, Message
from scaler_wizard.data.transforms import TransformContext, run_transforms
from scaler_wizard.recipe.spec import DataTransformSpec


def text(value: str, line: int = 0) -> Example:
    return Example(None, value, line)


def talk(question: str, answer: str, line: int = 0) -> Example:
    return Example((Message("user", question), Message("assistant", answer)), None, line)


WORDS = TransformContext(count_tokens=lambda e: len(((e.text or "") + " ".join(
    m.content for m in e.messages or ())).split()))  # fmt: skip
LATIN = "The quick brown fox jumps over the lazy dog near the river bank today"
RUSSIAN = "Съешь же ещё этих мягких французских булок да выпей чаю"

CASES: list[tuple[str, dict[str, Any], list[Example], list[int], dict[str, int]]] = [
    # name, options, examples, kept indices, reasons
    ("length", {"min_tokens": 3}, [text("a b"), text("a b c"), text("a b c d")], [1, 2],
     {"shorter than 3 tokens": 1}),
    ("length", {"max_tokens": 3}, [text("a b"), text("a b c"), text("a b c d")], [0, 1],
     {"longer than 3 tokens": 1}),
    ("length", {"min_tokens": 2, "max_tokens": 3}, [text("a"), text("a b"), text("a b c d")], [1],
     {"shorter than 2 tokens": 1, "longer than 3 tokens": 1}),
    ("drop_empty", {}, [text("  \n"), talk("q", "a"), talk("q", " "), text("x")], [1, 3],
     {"empty": 1, "empty turn": 1}),
    ("drop_empty", {"role": "user"}, [talk(" ", "a"), talk("q", " ")], [1], {"empty": 1}),
    ("regex", {"pattern": r"as an ai", "ignore_case": True},
     [talk("q", "As an AI, no."), talk("q", "Sure."), text("as an ai")], [1],
     {"matched 'as an ai'": 2}),
    ("regex", {"pattern": r"\d", "action": "keep", "role": "user"},
     [talk("What is 2+2?", "4"), talk("Why?", "Because 1")], [0], {"did not match '\\\\d'": 1}),
    ("script", {}, [text(LATIN), text(RUSSIAN), text("1234 !!"), text(LATIN + " " + RUSSIAN)],
     [0, 2], {"mostly Cyrillic script": 1, "Latin below 0.8": 1}),
    ("script", {"scripts": ["Cyrillic", "Latin"]},
     [text(LATIN), text(RUSSIAN), text("日本語の文章")], [0, 1], {"mostly Han script": 1}),
    ("quality", {}, [text(LATIN), text("buy now " * 20), text("{}[]<>!!??## ok")], [0],
     {"repetition above 0.3": 1, "symbols above 0.3": 1}),
    ("quality", {"max_repetition": 0.99, "max_symbol_ratio": 0.9},
     [text(LATIN), text("buy now " * 20)], [0, 1], {}),
    ("dedup_exact", {}, [text("Hello  World"), text("hello world"), text("hello there"),
                         talk("q", "hello world")], [0, 2, 3], {"exact duplicate": 1}),
    ("dedup_exact", {"ignore_case": False}, [text("Hello"), text("hello"), text(" Hello ")],
     [0, 1], {"exact duplicate": 1}),
    ("dedup_exact", {}, [talk("q", "Hi there"), talk(" q", "  hi   there\n"), talk("q2", "Hi")],
     [0, 2], {"exact duplicate": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "options", "examples", "kept", "reasons"), CASES)
def test_each_transform_keeps_and_drops_with_reasons(
    name: str,
    options: dict[str, Any],
    examples: list[Example],
    kept: list[int],
    reasons: dict[str, int],
) -> None:
    examples = [Example(e.messages, e.text, i) for i, e in enumerate(examples)]
    spec = DataTransformSpec(name=name, options=options)
    out, (step,) = run_transforms(examples, [spec], default_transforms(), WORDS)
    assert [e.line for e in out] == kept
    assert (step.records_in, step.records_out, step.reasons) == (len(examples), len(kept), reasons)
    dropped_lines = [s.line for s in step.samples]
    assert dropped_lines == [i for i in range(len(examples)) if i not in kept][:5]


BASE = (
    "Python's gzip module opens compressed files in binary or text mode and supports "
    "reading writing and appending with the same interface as the built-in open function"
)


def test_near_dedup_drops_a_near_copy_and_keeps_a_distinct_record() -> None:
    near = BASE.replace("appending", "also appending")  # one inserted word
    distinct = "The calendar module prints month and year calendars for any locale you choose"
    examples = [text(BASE, 1), text(near, 2), text(distinct, 3), talk("q", BASE, 4)]
    spec = DataTransformSpec(name="dedup_near", options={"threshold": 0.7})
    out, (step,) = run_transforms(examples, [spec], default_transforms(), WORDS)
    assert [e.line for e in out] == [1, 3]
    assert step.reasons == {"near duplicate": 2}
    strict = DataTransformSpec(name="dedup_near", options={"threshold": 0.95})
    assert len(run_transforms(examples, [strict], default_transforms(), WORDS)[0]) == 3


def test_transforms_compose_in_order() -> None:
    examples = [text("a b c", 1), text("a b c", 2), text("a", 3), text("x y z w", 4)]
    specs = [
        DataTransformSpec(name="dedup_exact"),
        DataTransformSpec(name="length", options={"min_tokens": 2}),
    ]
    out, steps = run_transforms(examples, specs, default_transforms(), WORDS)
    assert [e.line for e in out] == [1, 4]
    assert [(s.name, s.records_in, s.records_out) for s in steps] == [
        ("dedup_exact", 4, 3),
        ("length", 3, 2),
    ]
    assert steps[1].options == {"min_tokens": 2, "max_tokens": None}


def test_removing_everything_names_the_transform() -> None:
    specs = [
        DataTransformSpec(name="drop_empty"),
        DataTransformSpec(name="length", options={"min_tokens": 50}),
    ]
    with pytest.raises(DataError) as caught:
        run_transforms([text("a b", 1), text("c", 2)], specs, default_transforms(), WORDS)
    assert str(caught.value) == (
        "data.transforms[1]: transform 'length' removed every remaining record "
        "(2 in, 0 out; shorter than 50 tokens: 2)"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "nope"}, r"^data\.transforms\[0\]\.name: unknown data transform 'nope'; allowed: "
                           r"length, drop_empty"),
        ({"name": "length"}, r"^data\.transforms\[0\]\.options: length: .*give min_tokens"),
        ({"name": "regex", "options": {"pattern": "("}},
         r"options: pattern: .*not a valid regular"),
        ({"name": "quality", "options": {"typo": 1}}, r"options: typo: Extra inputs"),
    ],
)  # fmt: skip
def test_bad_transform_specs_name_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        run_transforms([text("a")], [DataTransformSpec(**spec)], default_transforms(), WORDS)


def test_catalog_lists_the_transforms() -> None:
    catalog = build_catalog(load_plugins=False)
    assert "data transforms" in catalog.sections()
    assert catalog.transforms.names() == default_transforms().names()
    assert all(entry.summary for entry in catalog.transforms)
    assert "sharegpt" in catalog.data
