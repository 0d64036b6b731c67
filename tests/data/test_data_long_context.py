"""Long-context samples from the real long documents: exact token sizes, planted facts at the
asked depth, multi-document questions, clear errors, and their place in prepare_data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat, write_jsonl

from scaler_wizard.data import DataError, prepare_data
from scaler_wizard.data.formats import Example
from scaler_wizard.data.synthetic.documents import load_documents
from scaler_wizard.data.synthetic.long_context import build_long_context
from scaler_wizard.data.tokenize import tokenize_example
from scaler_wizard.recipe.spec import DataSpec, LongContextSpec
from tiny_models import SHARED_DATA, long_document

FACT = re.compile(r"The access code for ([\w-]+) is (\d{6})\.")


DOCUMENTS = ["gpl-3.0.txt", "nodejs-api-stream.md", "nodejs-api-process.md"]


def documents(tokenizer: Any) -> list[Any]:
    return load_documents([str(long_document(n)) for n in DOCUMENTS], Path.cwd(), tokenizer)


def build(tokenizer: Any, seq_length: int = 2048, seed: int = 0, **options: Any) -> Any:
    spec = LongContextSpec(documents=["unused"], **options)
    return build_long_context(spec, tokenizer, documents(tokenizer), seq_length, seed)


def tokens(tokenizer: Any, example: Example) -> int:
    return len(tokenize_example(tokenizer, example, 1 << 30).input_ids)


def test_samples_are_sized_exactly_with_the_tokenizer(tiny_tokenizer: Any) -> None:
    examples, report = build(tiny_tokenizer, lengths=[512, 1024, 2048], samples_per_length=4)
    expected = [n for n in (512, 1024, 2048) for _ in range(4)]
    measured = [tokens(tiny_tokenizer, e) for e in examples]
    assert measured == report["token_lengths"]
    for size, length in zip(measured, expected, strict=True):
        assert length - 2 <= size <= length  # a merge at a seam may cost a token or two
    assert report["lengths"] == {"512": 4, "1024": 4, "2048": 4}
    assert all(e.source == "synthetic:long_context" for e in examples)


def test_retrieval_plants_the_fact_at_the_depth_and_asks_for_it(tiny_tokenizer: Any) -> None:
    depths = [0.1, 0.5, 0.9]
    examples, _ = build(
        tiny_tokenizer, lengths=[2048], samples_per_length=3, kinds=["retrieval"], depths=depths
    )
    for example, depth in zip(examples, depths, strict=True):
        assert example.messages is not None
        prompt, answer = example.messages[0].content, example.messages[1].content
        (key, value) = FACT.findall(prompt)[0]
        assert prompt.rstrip().endswith(f"What is the access code for {key}? Answer with one "
                                        "sentence.")  # fmt: skip
        assert answer == f"The access code for {key} is {value}."
        filler_end = prompt.rindex("\n\nWhat is the access code")
        at = prompt.index(FACT.findall(prompt)[0][0]) / filler_end
        assert at == pytest.approx(depth, abs=0.05)


def test_multi_doc_asks_about_one_titled_document(tiny_tokenizer: Any) -> None:
    examples, _ = build(
        tiny_tokenizer, lengths=[1536], samples_per_length=4, kinds=["multi_doc"],
        documents_per_sample=3,
    )  # fmt: skip
    asked_title = 0
    for example in examples:
        assert example.messages is not None
        prompt, answer = example.messages[0].content, example.messages[1].content
        titles = re.findall(r"^Document (\d) \(([\w.-]+)\):$", prompt, re.MULTILINE)
        assert [n for n, _ in titles] == ["1", "2", "3"]
        assert len({name for _, name in titles}) == 3  # three different documents
        number, name = re.findall(r"Document (\d) \(([\w.-]+)\)", answer)[0]
        (key, value) = FACT.findall(prompt)[0]
        section = prompt.split(f"Document {number} ({name}):\n")[1].split("\n\nDocument ")[0]
        assert FACT.search(section) is not None  # the fact is in the document named
        if "mentions" in prompt[-120:]:
            asked_title += 1
            assert answer == f"Document {number} ({name})."
        else:
            assert answer.startswith(f"The access code for {key} is {value}.")
    assert asked_title == 2


def test_deterministic_for_a_seed(tiny_tokenizer: Any) -> None:
    first, _ = build(tiny_tokenizer, lengths=[512], samples_per_length=3)
    assert build(tiny_tokenizer, lengths=[512], samples_per_length=3)[0] == first
    assert build(tiny_tokenizer, lengths=[512], samples_per_length=3, seed=1)[0] != first


def test_lengths_default_to_the_rows_and_longer_ones_are_left_out(tiny_tokenizer: Any) -> None:
    examples, report = build(tiny_tokenizer, seq_length=768, samples_per_length=2)
    assert [tokens(tiny_tokenizer, e) for e in examples] == report["token_lengths"]
    assert report["lengths"] == {"768": 2}
    _, report = build(tiny_tokenizer, seq_length=768, lengths=[512, 4096])
    assert (report["lengths"], report["left_out_lengths"]) == ({"512": 8}, [4096])


def test_a_length_beyond_the_documents_is_a_clear_error(tiny_tokenizer: Any) -> None:
    with pytest.raises(DataError) as caught:
        build(tiny_tokenizer, seq_length=400_000, lengths=[400_000], kinds=["retrieval"])
    message = str(caught.value)
    assert message.startswith(
        "data.synthetic.long_context.lengths: a 400000-token retrieval sample needs about"
    )
    names = "|".join(re.escape(n) for n in DOCUMENTS)
    assert re.search(rf"but the longest has \d+ \(({names})\)", message)
    with pytest.raises(DataError, match=r"multi_doc sample takes up to 13333 tokens from each of "
                                        r"30 documents, but 3 of the 3"):  # fmt: skip
        build(tiny_tokenizer, seq_length=400_000, lengths=[400_000], kinds=["multi_doc"],
              documents_per_sample=30)  # fmt: skip
    with pytest.raises(DataError, match=r"lengths: 64 tokens cannot hold"):
        build(tiny_tokenizer, lengths=[64])


def test_long_context_samples_join_training_only(tmp_path: Path, tiny_tokenizer: Any) -> None:
    if not (SHARED_DATA / "longdocs").is_dir():
        pytest.skip("shared long documents are not present")
    path = write_jsonl(tmp_path, [chat(f"Question {i}?", f"Answer {i}.") for i in range(10)])
    synthetic = {
        "long_context": {"documents": [str(SHARED_DATA / "longdocs")], "samples_per_length": 3},
    }
    spec = DataSpec(
        train=str(path), eval_records=2, seq_length=640, synthetic=synthetic,
        transforms=[{"name": "length", "options": {"max_tokens": 100}}],
    )  # fmt: skip
    data = prepare_data(spec, tiny_tokenizer)
    assert data.stats.synthetic_examples == 3
    assert data.stats.train_examples == 8 + 3  # the length filter never saw them
    full_rows = [r for r in data.train_rows if r.lengths and max(r.lengths) >= 638]
    assert len(full_rows) == 3
    assert all(max(r.lengths) < 100 for r in data.eval_rows)
    assert data.report is not None
    assert data.report.synthetic["long_context"]["lengths"] == {"640": 3}
    bigger = prepare_data(spec.model_copy(update={"seq_length": 700}), tiny_tokenizer)
    assert bigger.fingerprint != data.fingerprint
