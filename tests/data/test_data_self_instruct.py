"""Self-instruct with real tiny models: parsing, seeded generation, progress, the recipe's
transforms on the pairs, the cache that later stages reuse, and clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from data_helpers import chat, write_jsonl

from scaler_wizard.data import DataError, prepare_data
from scaler_wizard.data.synthetic.generate import Generator, generate_text
from scaler_wizard.data.synthetic.parse import Pair, parse_pair
from scaler_wizard.data.synthetic.self_instruct import build_prompt
from scaler_wizard.recipe.spec import DataSpec
from tiny_models import SHARED_DATA, build_tiny_model

SEED = Pair("What does `json.dumps` do?", "Serialize obj to a JSON formatted str.")
TAUGHT = "What is the pass key?\n\n### Response:\nThe pass key is 12345.\n"


@pytest.mark.parametrize(
    ("text", "finished", "pair", "reason"),
    [
        ("What does zip do?\n\n### Response:\nIt pairs items.\n\n### Instruction:\nMore", False,
         ("What does zip do?", "It pairs items."), None),
        ("### Instruction:\nExplain map()\n## response\nApplies f.\n# Notes", False,
         ("Explain map()", "Applies f."), None),
        ("Question: Explain the map function\nAnswer: It applies f.", True,
         ("Explain the map function", "It applies f."), None),
        ('Here: {"instruction": "Explain zip in Python", "response": "Pairs items."}', False,
         ("Explain zip in Python", "Pairs items."), None),
        ("Explain the map function\nAnswer: It applies f and then", False, None,
         "truncated at max_new_tokens"),
        ("Output the list of files\nAnswers are here", True, None, "no response marker"),
        ("Hi\n### Response:\nHello", True, None, "instruction empty or too short"),
        ("Explain the map function\n### Response:\n\n### Instruction:", True, None,
         "empty response"),
    ],
)  # fmt: skip
def test_parse_pair(
    text: str, finished: bool, pair: tuple[str, str] | None, reason: str | None
) -> None:
    found, why = parse_pair(text, finished)
    assert (found, why) == ((Pair(*pair) if pair else None), reason)


@pytest.fixture(scope="module")
def taught_model(tiny_tokenizer: Any) -> Iterator[Any]:
    """A tiny Llama trained for a moment to answer the one-seed prompt with TAUGHT: a real
    model whose output is known, so parsing and transforms are exercised end to end."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many threads on a busy machine are far slower for a 64-d model
    model = build_tiny_model(tiny_tokenizer, max_positions=512)
    prompt = tiny_tokenizer(build_prompt([SEED]), add_special_tokens=False)["input_ids"]
    target = tiny_tokenizer(TAUGHT, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + target + [tiny_tokenizer.eos_token_id]])
    labels = ids.clone()
    labels[0, : len(prompt)] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    for _ in range(150):
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    torch.set_num_threads(threads)
    yield model.eval()


def train_file(folder: Path) -> Path:
    return write_jsonl(folder, [chat(f"Question {i}?", f"Answer {i}.") for i in range(4)])


def seed_file(folder: Path) -> Path:
    return write_jsonl(folder, [chat(SEED.instruction, SEED.response)], "seeds.jsonl")


def si_spec(path: Path, **self_instruct: Any) -> DataSpec:
    options = {"count": 3, "seeds_per_prompt": 1, "max_new_tokens": 40, "temperature": 0.5,
               "seeds": str(seed_file(path.parent)), **self_instruct}  # fmt: skip
    return DataSpec(
        train=str(path), eval_records=1, seq_length=256,
        transforms=[{"name": "dedup_exact"}], synthetic={"self_instruct": options},
    )  # fmt: skip


def test_generated_pairs_go_through_the_transforms_and_are_cached(
    tmp_path: Path, tiny_tokenizer: Any, taught_model: Any
) -> None:
    calls: list[tuple[str, int, int]] = []
    spec = si_spec(train_file(tmp_path))
    data = prepare_data(
        spec, tiny_tokenizer, model=taught_model, progress=lambda *a: calls.append(a)
    )
    assert data.report is not None
    made = data.report.synthetic["self_instruct"]
    assert (made["generated"], made["attempts"], made["cached"]) == (3, 3, False)
    assert made["samples"][0] == {"instruction": "What is the pass key?",
                                  "response": "The pass key is 12345."}  # fmt: skip
    # dedup_exact runs over the 4 train records and the 3 (identical) pairs together
    assert made["kept_after_transforms"] == 1
    assert data.stats.synthetic_examples == 1
    (step,) = data.report.transforms
    assert (step["records_in"], step["records_out"], step["reasons"]) == (
        7, 5, {"exact duplicate": 2}
    )  # fmt: skip
    assert calls == [("self-instruct (base:)", n, 3) for n in range(4)]
    # A later stage has no model loaded: the cached pairs are used, the rows are the same.
    again = prepare_data(spec, tiny_tokenizer)
    assert again.report is not None and again.report.synthetic["self_instruct"]["cached"]
    assert again.fingerprint == data.fingerprint
    changed = si_spec(train_file(tmp_path), temperature=0.6)
    with pytest.raises(
        DataError,
        match=r"^data\.synthetic\.self_instruct\.model: model 'base' "
        r"means the run's base model, which is not loaded",
    ):
        prepare_data(changed, tiny_tokenizer)  # fmt: skip


def test_an_untrained_model_is_bounded_by_max_attempts(tmp_path: Path, tiny_tokenizer: Any) -> None:
    model = build_tiny_model(tiny_tokenizer, max_positions=512)
    spec = si_spec(train_file(tmp_path), max_attempts=4, max_new_tokens=16)
    data = prepare_data(spec, tiny_tokenizer, model=model, progress=lambda *a: None)
    assert data.report is not None
    made = data.report.synthetic["self_instruct"]
    assert (made["generated"], made["attempts"]) == (0, 4)
    assert sum(made["rejected"].values()) == 4
    assert data.stats.synthetic_examples == 0


def test_generation_is_seeded_and_leaves_the_global_rng_alone(tiny_tokenizer: Any) -> None:
    import torch

    generator = Generator(build_tiny_model(tiny_tokenizer, max_positions=512), tiny_tokenizer, "t")
    ids = tiny_tokenizer(build_prompt([SEED]), add_special_tokens=False)["input_ids"]
    state = torch.random.get_rng_state()
    first = generate_text(generator, ids, seed=7, max_new_tokens=12, temperature=1, top_p=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert generate_text(generator, ids, seed=7, max_new_tokens=12, temperature=1, top_p=1) == first
    assert generate_text(generator, ids, seed=8, max_new_tokens=12, temperature=1, top_p=1) != first


def test_seeds_from_a_file_must_fit_the_model(tmp_path: Path, tiny_tokenizer: Any) -> None:
    real = SHARED_DATA / "sft_stdlib.jsonl"
    if not real.is_file():
        pytest.skip("shared instruction data is not present")
    train = train_file(tmp_path)
    small = build_tiny_model(tiny_tokenizer, max_positions=64)
    spec = si_spec(train, seeds=str(real), max_new_tokens=32)
    with pytest.raises(DataError, match=r"^data\.synthetic\.self_instruct: no seed fits the "
                                        r"model's context \(64 tokens\)"):  # fmt: skip
        prepare_data(spec, tiny_tokenizer, model=small, progress=lambda *a: None)
    bigger = build_tiny_model(tiny_tokenizer, max_positions=512)
    spec = si_spec(train, seeds=str(real), max_new_tokens=32, seeds_per_prompt=3, max_attempts=2)
    data = prepare_data(spec, tiny_tokenizer, model=bigger, progress=lambda *a: None)
    assert data.report is not None
    assert data.report.synthetic["self_instruct"]["attempts"] == 2


def test_seeds_need_a_conversation(tmp_path: Path, tiny_tokenizer: Any) -> None:
    text = write_jsonl(tmp_path, [{"text": f"plain {i}"} for i in range(4)])
    spec = si_spec(text)
    spec.synthetic.self_instruct.seeds = None  # type: ignore[union-attr]  # the train data
    with pytest.raises(DataError, match=r"^data\.synthetic\.self_instruct\.seeds: no seed "):
        prepare_data(spec, tiny_tokenizer, progress=lambda *a: None)
