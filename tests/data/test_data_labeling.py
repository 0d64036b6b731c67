"""Labeling functions: built-in votes, the label model's learned weights, and the transform in
prepare_data with user code, the report and the fingerprint."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat, write_jsonl

from scaler_wizard.data import DataError, prepare_data, write_data_report
from scaler_wizard.data.formats import Example, Message
from scaler_wizard.data.labeling import BUILT_IN_FUNCTIONS, fit_label_model
from scaler_wizard.recipe.spec import DataSpec
from tiny_models import instruction_records


def talk(question: str, answer: str) -> Example:
    return Example((Message("user", question), Message("assistant", answer)), None, 0)


LONG_Q = "Could you explain in detail how the garbage collector in CPython decides to run?"
PROSE = (
    "CPython frees most objects by reference counting as soon as the last reference goes, "
    "and a generational collector finds reference cycles when allocation counts pass limits."
)
CASES = [
    ("refusal", talk("Write a poem", "I'm sorry, but I can't help with that."), "drop"),
    ("refusal", talk("Write a poem", "Roses are red."), None),
    ("boilerplate", talk("Hi", "As an AI language model, I have no opinions."), "drop"),
    ("boilerplate", talk("Hi", "Hello there."), None),
    ("short_answer", talk(LONG_Q, "Yes."), "drop"),
    ("short_answer", talk("What is 2+2?", "4"), None),
    ("short_answer", talk("What is GC?", PROSE), "keep"),
    ("short_answer", Example(None, "plain text", 0), None),
    ("language_mismatch", talk(LONG_Q, "Сборщик мусора запускается, когда счётчики растут."),
     "drop"),
    ("language_mismatch", talk(LONG_Q, PROSE), "keep"),
    ("language_mismatch", talk("Hi", PROSE), None),
    ("code_blocks", talk("Code?", "```python\nprint(1)\n"), "drop"),
    ("code_blocks", talk("Code?", "```python\nprint(1)\n```"), "keep"),
    ("code_blocks", talk("Code?", PROSE), None),
    ("repeated_ngrams", talk("Q", "buy it now " * 12), "drop"),
    ("repeated_ngrams", talk("Q", PROSE), "keep"),
    ("repeated_ngrams", talk("Q", "short answer"), None),
    ("link_spam", talk("Q", "See http://a.io http://b.io and https://c.io now"), "drop"),
    ("link_spam", talk("Q", PROSE + " Docs: https://docs.python.org/3/"), None),
    ("pii", talk("Q", "Mail me at jane.doe@example.com"), "drop"),
    ("pii", talk("Q", "Call 555-867-5309 tonight"), "drop"),
    ("pii", talk("Q", "Card 4111 1111 1111 1111"), "drop"),
    ("pii", talk("Q", "Order 4111 1111 1111 1112"), None),  # fails the Luhn check
    ("pii", talk("Q", PROSE), None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "example", "vote"), CASES)
def test_built_in_functions_vote(name: str, example: Example, vote: str | None) -> None:
    assert BUILT_IN_FUNCTIONS[name](example) == vote


def simulated_votes(records: int, accuracies: list[float], coverage: float, seed: int = 0) -> Any:
    """Votes of functions with known accuracies on records with known true labels."""
    rng = random.Random(seed)
    truth = [rng.choice(["keep", "drop"]) for _ in range(records)]
    votes = []
    for label in truth:
        record = []
        for index, accuracy in enumerate(accuracies):
            if rng.random() < coverage:
                wrong = "drop" if label == "keep" else "keep"
                record.append((index, label if rng.random() < accuracy else wrong))
        votes.append(record)
    return truth, votes


def test_label_model_learns_who_to_trust() -> None:
    accuracies = [0.92, 0.85, 0.8, 0.55, 0.3]  # the last two: a coin flip and a liar
    truth, votes = simulated_votes(1500, accuracies, coverage=0.7)
    model = fit_label_model(votes, len(accuracies), ["keep", "drop"])
    assert model.converged
    for estimated, real in zip(model.accuracies[:3], accuracies, strict=False):
        assert estimated == pytest.approx(real, abs=0.07)
    assert model.weights[0] > model.weights[1] > model.weights[2] > model.weights[3]
    assert model.weights[4] == 0.0  # below chance: ignored, never trusted upside down

    def accuracy(predict: Any) -> float:
        decided = [(p, t) for p, t in zip(map(predict, votes), truth, strict=True) if p]
        return sum(p == t for p, t in decided) / len(decided)

    def majority(record: list[tuple[int, str]]) -> str | None:
        drops = sum(label == "drop" for _, label in record)
        keeps = len(record) - drops
        return None if drops == keeps else ("drop" if drops > keeps else "keep")

    learned = accuracy(lambda v: model.decide(v).label)
    assert learned > accuracy(majority) + 0.03  # the weights earn their keep


def test_ties_and_abstains_are_explicit() -> None:
    model = fit_label_model([[(0, "keep"), (1, "drop")]] * 10, 2, ["keep", "drop"])
    assert model.weights[0] == pytest.approx(model.weights[1])
    tie = model.decide([(0, "keep"), (1, "drop")])
    assert (tie.status, tie.label, tie.probability["drop"]) == ("tie", None, pytest.approx(0.5))
    nothing = model.decide([])
    assert (nothing.status, nothing.label, nothing.probability) == ("abstain", None, {})
    assert model.decide([(0, "drop")]).label == "drop"


BAD_ANSWERS = [
    chat("Explain what `os.walk` returns in the Python standard library.", "I'm sorry, but I "
         "cannot help with that request."),
    chat("How do I read a file line by line in Python using the standard library?", "No."),
    chat("What does `json.loads` do in the Python standard library?", "As an AI language "
         "model, I hope this helps: it parses JSON. Feel free to ask more!"),
]  # fmt: skip


def stdlib_records(count: int) -> list[dict[str, Any]]:
    return instruction_records(count)


def lf_spec(path: Path, options: dict[str, Any], **extra: Any) -> DataSpec:
    step = {"name": "label_functions", "options": options}
    return DataSpec(train=str(path), eval_records=2, seq_length=512, transforms=[step], **extra)


def test_filter_mode_on_real_data_drops_bad_answers_and_reports_why(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    records = [*stdlib_records(40), *BAD_ANSWERS]
    path = write_jsonl(tmp_path, records)
    functions = ["refusal", "boilerplate", "short_answer", "repeated_ngrams", "code_blocks"]
    data = prepare_data(lf_spec(path, {"functions": functions}), tiny_tokenizer)
    assert data.report is not None
    (step,) = data.report.transforms
    assert (step["records_in"], step["records_out"]) == (43, 40)
    assert step["reasons"] == {"drop: refusal": 1, "drop: short_answer": 1, "drop: boilerplate": 1}
    assert sorted(s["line"] for s in step["samples"]) == [41, 42, 43]
    rows = {row["name"]: row for row in step["details"]["label_functions"]}
    assert rows["refusal"]["votes"] == {"drop": 1}
    assert rows["refusal"]["coverage"] == pytest.approx(1 / 43, abs=1e-4)
    assert rows["short_answer"]["votes"]["keep"] > 0  # long stdlib answers
    assert all(row["weight"] >= 0 for row in rows.values())
    markdown = write_data_report(data.report, tmp_path / "report")["markdown"].read_text()
    assert "### Labeling functions (data.train, filter mode)" in markdown
    assert "| refusal | drop: 1 | 2.3% |" in markdown
    assert f"dropped {path} line 41 (drop: refusal)" in markdown


USER_CODE = '''
from scaler_wizard.data.labeling import DROP, answer_of


def mentions_digits(example):
    """Tag answers that quote numbers."""
    return "numeric" if any(c.isdigit() for c in answer_of(example)) else "prose"


def no_digits(example):
    return DROP if any(c.isdigit() for c in answer_of(example)) else None
'''


def test_user_functions_from_a_file_or_module_path_tag_records(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    (tmp_path / "lfs").mkdir()
    (tmp_path / "lfs" / "custom.py").write_text(USER_CODE)
    records = [
        chat(f"Question {i}?", f"Answer {i}." if i % 2 else "Words only.") for i in range(10)
    ]
    path = write_jsonl(tmp_path, records)
    for reference in ("lfs/custom.py:mentions_digits", "lfs.custom:mentions_digits"):
        options = {"functions": [reference], "mode": "tag", "tag_field": "style"}
        data = prepare_data(lf_spec(path, options), tiny_tokenizer, base_dir=tmp_path)
        assert data.report is not None
        assert data.stats.records_removed == 0
        tags = data.report.tags["style"]
        assert sum(tags.values()) == data.stats.train_examples == 8
        assert set(tags) == {"numeric", "prose"}
    dropped = prepare_data(
        lf_spec(path, {"functions": ["lfs/custom.py:no_digits"]}), tiny_tokenizer, base_dir=tmp_path
    )
    assert dropped.stats.records_removed == 5


def test_user_code_is_part_of_the_fingerprint(tmp_path: Path, tiny_tokenizer: Any) -> None:
    code = tmp_path / "mine.py"
    code.write_text("def vote(example):\n    return None\n")
    path = write_jsonl(tmp_path, [chat(f"Q{i}", f"A{i}") for i in range(6)])
    spec = lf_spec(path, {"functions": ["mine.py:vote"]})
    first = prepare_data(spec, tiny_tokenizer, base_dir=tmp_path).fingerprint
    assert prepare_data(spec, tiny_tokenizer, base_dir=tmp_path).fingerprint == first
    code.write_text("def vote(example):\n    return None  # edited\n")
    assert prepare_data(spec, tiny_tokenizer, base_dir=tmp_path).fingerprint != first


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("missing/file.py:vote", r"tried file .*missing/file\.py \(not found\)$"),
        ("nowhere.mod:vote", r"tried file .*nowhere/mod\.py \(not found\) and module "
                             r"'nowhere\.mod' \(No module named 'nowhere'\)"),
        ("json:nothing_here", r"'json' was imported .* but has no attribute 'nothing_here'"),
        ("json:__doc__", r"'json:__doc__' is a str, not a function"),
    ],
)  # fmt: skip
def test_a_reference_that_cannot_be_imported_names_the_field(
    tmp_path: Path, tiny_tokenizer: Any, reference: str, message: str
) -> None:
    path = write_jsonl(tmp_path, [chat(f"Q{i}", f"A{i}") for i in range(6)])
    spec = lf_spec(path, {"functions": ["refusal", reference]})
    field = r"^data\.transforms\[0\]\.options\.functions\[1\]: "
    loading = f"cannot load labeling function {re.escape(repr(reference))}: "
    with pytest.raises(DataError, match=field + loading + message):
        prepare_data(spec, tiny_tokenizer, base_dir=tmp_path)


def test_bad_votes_and_unknown_built_ins_are_refused(tmp_path: Path, tiny_tokenizer: Any) -> None:
    (tmp_path / "odd.py").write_text("def vote(example):\n    return 1\n")
    path = write_jsonl(tmp_path, [chat(f"Q{i}", f"A{i}") for i in range(6)])
    refused = r"functions\[0\]: labeling function 'odd.py:vote' returned 1 on record 1; filter"
    with pytest.raises(DataError, match=refused):
        prepare_data(lf_spec(path, {"functions": ["odd.py:vote"]}), tiny_tokenizer,
                     base_dir=tmp_path)  # fmt: skip
    with pytest.raises(DataError, match=r"options: functions: .*unknown built-in .*'refusl'"):
        prepare_data(lf_spec(path, {"functions": ["refusl"]}), tiny_tokenizer)


def test_on_tie_decides_balanced_records(tmp_path: Path, tiny_tokenizer: Any) -> None:
    (tmp_path / "pair.py").write_text(
        "def yes(example):\n    return 'keep'\n\n\ndef no(example):\n    return 'drop'\n"
    )
    path = write_jsonl(tmp_path, [chat(f"Q{i}", f"A{i}") for i in range(6)])
    functions = ["pair.py:yes", "pair.py:no"]
    kept = prepare_data(lf_spec(path, {"functions": functions}), tiny_tokenizer, base_dir=tmp_path)
    assert kept.stats.records_removed == 0
    with pytest.raises(DataError, match=r"removed every remaining record .*tie \(pair.py:no\)"):
        prepare_data(lf_spec(path, {"functions": functions, "on_tie": "drop"}), tiny_tokenizer,
                     base_dir=tmp_path)  # fmt: skip
