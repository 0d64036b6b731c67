"""Long-context training samples from real documents, sized in tokens with the tokenizer.

retrieval: a key/value fact planted at a depth of one document's text, the question at the
end, the answer as the assistant turn. multi_doc: several documents, each titled, a fact in
one of them; the question asks for the fact or for the document that holds it.

Each sample is sized so that, tokenized as trained (chat template included), it is as long as
possible without exceeding its length: the filler is cut at token boundaries and the count is
corrected until it fits (merges across the seams can shift it by a token or two).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example, Message
from scaler_wizard.data.synthetic.documents import Document
from scaler_wizard.data.tokenize import tokenize_example
from scaler_wizard.recipe.spec import LongContextSpec

FIELD = "data.synthetic.long_context"
SOURCE = "synthetic:long_context"
ADJECTIVES = ("amber", "brisk", "cobalt", "dusky", "ember", "frosty", "golden", "hazel", "ivory")
NOUNS = ("falcon", "harbor", "lantern", "meadow", "orchid", "pebble", "quarry", "raven", "summit")
FIT_STEPS = 16  # corrections allowed while sizing; two or three are the norm
SNAP_TOKENS = 32  # how far a planted fact may move to land between words


@dataclass(frozen=True)
class Fact:
    key: str
    value: int

    @property
    def sentence(self) -> str:
        return f"The access code for {self.key} is {self.value}."


def build_long_context(
    spec: LongContextSpec,
    tokenizer: Any,
    documents: Sequence[Document],
    seq_length: int,
    seed: int,
) -> tuple[list[Example], dict[str, Any]]:
    """Samples at every requested length that fits `seq_length`, and a report of them."""
    lengths = spec.lengths or [seq_length]
    fitting = [n for n in lengths if n <= seq_length]
    examples: list[Example] = []
    sizes: list[int] = []
    for length in fitting:
        for index in range(spec.samples_per_length):
            kind = spec.kinds[index % len(spec.kinds)]
            depth = spec.depths[index % len(spec.depths)]
            rng = random.Random(f"long_context:{seed}:{length}:{index}")
            line = len(examples) + 1
            builder = _retrieval if kind == "retrieval" else _multi_doc
            example, size = builder(spec, tokenizer, documents, length, depth, rng, index, line)
            examples.append(example)
            sizes.append(size)
    report = {
        "documents": [{"name": d.name, "tokens": len(d.ids)} for d in documents],
        "lengths": {str(n): spec.samples_per_length for n in fitting},
        "left_out_lengths": [n for n in lengths if n > seq_length],
        "token_lengths": sizes,
    }
    return examples, report


def _retrieval(
    spec: LongContextSpec,
    tokenizer: Any,
    documents: Sequence[Document],
    length: int,
    depth: float,
    rng: random.Random,
    index: int,
    line: int,
) -> tuple[Example, int]:
    fact = _fact(rng)
    question = f"What is the access code for {fact.key}? Answer with one sentence."

    def render(ids: Sequence[int]) -> Example:
        before, after = _split_at_depth(tokenizer, ids, depth)
        body = f"{before}\n\n{fact.sentence}\n\n{after}\n\n{question}"
        return _chat(body, fact.sentence, line)

    need = length - _fixed_part(tokenizer, render([]), length)
    eligible = [d for d in documents if len(d.ids) >= need]
    if not eligible:
        longest = max(documents, key=lambda d: len(d.ids))
        raise DataError(
            f"a {length}-token retrieval sample needs about {need} tokens of one document, but "
            f"the longest has {len(longest.ids)} ({longest.name}); add a longer document or "
            "lower the length",
            field=f"{FIELD}.lengths",
        )
    doc = rng.choice(eligible)
    start = rng.randrange(len(doc.ids) - need + 1)
    ids = doc.ids[start:]
    return _fit(tokenizer, lambda n: render(ids[:n]), length, need, len(ids))


def _multi_doc(
    spec: LongContextSpec,
    tokenizer: Any,
    documents: Sequence[Document],
    length: int,
    depth: float,
    rng: random.Random,
    index: int,
    line: int,
) -> tuple[Example, int]:
    count = spec.documents_per_sample
    share = length // count  # an upper bound of each document's part
    eligible = [d for d in documents if len(d.ids) >= share]
    if len(eligible) < count:
        raise DataError(
            f"a {length}-token multi_doc sample takes up to {share} tokens from each of {count} "
            f"documents, but {len(eligible)} of the {len(documents)} documents are that long; "
            "add documents, lower documents_per_sample or the length",
            field=f"{FIELD}.lengths",
        )
    chosen = rng.sample(eligible, count)
    excerpts = [d.ids[(s := rng.randrange(len(d.ids) - share + 1)) : s + share] for d in chosen]
    target = rng.randrange(count)
    fact = _fact(rng)
    titled = f"Document {target + 1} ({chosen[target].name})"
    if (index // len(spec.kinds)) % 2:  # every other multi_doc sample asks for the title
        question = f"Which document above mentions the access code for {fact.key}?"
        answer = f"{titled}."
    else:
        question = f"According to the documents above, what is the access code for {fact.key}?"
        answer = f"{fact.sentence} It is stated in {titled}."

    def render(total: int) -> Example:
        parts = []
        for i, (doc, ids) in enumerate(zip(chosen, excerpts, strict=True)):
            part = ids[: total // count + (1 if i < total % count else 0)]
            if i == target:
                before, after = _split_at_depth(tokenizer, part, depth)
                text = f"{before}\n\n{fact.sentence}\n\n{after}"
            else:
                text = tokenizer.decode(part)
            parts.append(f"Document {i + 1} ({doc.name}):\n{text}")
        return _chat("\n\n".join(parts) + f"\n\n{question}", answer, line)

    need = length - _fixed_part(tokenizer, render(0), length)
    return _fit(tokenizer, render, length, need, share * count)


def _fit(
    tokenizer: Any, render: Callable[[int], Example], length: int, guess: int, budget: int
) -> tuple[Example, int]:
    """The longest rendering of at most `length` tokens, searching the filler size from
    `guess` (the length minus the sample's fixed part)."""
    best: tuple[int, int] | None = None  # (filler size, tokens)
    seen: set[int] = set()
    size = max(0, min(guess, budget))
    for _ in range(FIT_STEPS):
        seen.add(size)
        tokens = _count(tokenizer, render(size))
        if tokens <= length and (best is None or tokens > best[1]):
            best = (size, tokens)
        step = length - tokens
        if step == 0:
            break
        nxt = max(0, min(budget, size + step))
        if nxt in seen:  # a merge makes one size overshoot and the next undershoot
            nxt = max(0, min(budget, size + (1 if step > 0 else -1)))
            if nxt in seen:
                break
        size = nxt
    if best is None:  # every size tried overshot; no filler at all fits (checked before)
        best = (0, _count(tokenizer, render(0)))
    return render(best[0]), best[1]


def _count(tokenizer: Any, example: Example) -> int:
    return len(tokenize_example(tokenizer, example, 1 << 30).input_ids)


def _fixed_part(tokenizer: Any, empty: Example, length: int) -> int:
    """Tokens of a sample without document text; an error when the length cannot hold them."""
    tokens = _count(tokenizer, empty)
    if tokens >= length:
        raise DataError(
            f"{length} tokens cannot hold a sample's question and answer ({tokens} tokens "
            "without any document text); raise the length",
            field=f"{FIELD}.lengths",
        )
    return tokens


def _split_at_depth(tokenizer: Any, ids: Sequence[int], depth: float) -> tuple[str, str]:
    """The text before and after `depth`, moved ahead to the next word start when one is near."""
    cut = round(depth * len(ids))
    for probe in range(cut, min(len(ids), cut + SNAP_TOKENS)):
        if tokenizer.decode([ids[probe]])[:1].isspace():
            cut = probe
            break
    return tokenizer.decode(list(ids[:cut])), tokenizer.decode(list(ids[cut:]))


def _fact(rng: random.Random) -> Fact:
    key = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}-{rng.randrange(100, 1000)}"
    return Fact(key, rng.randrange(100_000, 1_000_000))


def _chat(question: str, answer: str, line: int) -> Example:
    turns = (Message("user", question), Message("assistant", answer))
    return Example(turns, None, line, source=SOURCE)
