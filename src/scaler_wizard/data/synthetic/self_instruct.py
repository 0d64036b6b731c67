"""Self-instruct: show a model k seed examples, let it write a new one, keep what parses.

Deterministic for a seed: seeds are drawn with a seeded `random.Random` and every attempt
samples with its own torch seed. Attempts stop at `count` parsed pairs or `max_attempts`.
Filtering and dedup are not done here: the pairs go through the recipe's transforms.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example, Message
from scaler_wizard.data.labeling.functions import answer_of, question_of
from scaler_wizard.data.synthetic.cache import cache_key, read_cached, write_cached
from scaler_wizard.data.synthetic.generate import Generator, generate_text
from scaler_wizard.data.synthetic.parse import Pair, parse_pair
from scaler_wizard.data.synthetic.progress import ProgressFn
from scaler_wizard.recipe.spec import SelfInstructSpec

FIELD = "data.synthetic.self_instruct"
SOURCE = "synthetic:self_instruct"
HEADER = (
    "Below are examples of tasks with their answers. Write one new task, different from "
    "these, and its answer, in the same format.\n\n"
)
SEED_CHARS = 1200  # a seed longer than this is cut: the prompt must leave room to answer
SAMPLES_SHOWN = 3


@dataclass
class SelfInstructResult:
    examples: list[Example]
    attempts: int
    rejected: dict[str, int] = field(default_factory=dict)
    cached: bool = False

    def report(self, spec: SelfInstructSpec, generator: str) -> dict[str, Any]:
        return {
            "model": generator,
            "requested": spec.count,
            "generated": len(self.examples),
            "attempts": self.attempts,
            "rejected": dict(sorted(self.rejected.items())),
            "cached": self.cached,
            "samples": [
                {"instruction": question_of(e), "response": answer_of(e)}
                for e in self.examples[:SAMPLES_SHOWN]
            ],
        }


def seed_pairs(examples: Sequence[Example]) -> list[Pair]:
    """First user turn and first assistant turn of every conversation that has both."""
    pairs = []
    for example in examples:
        turns = example.messages or ()
        user = next((m.content for m in turns if m.role == "user" and m.content.strip()), None)
        reply = next(
            (m.content for m in turns if m.role == "assistant" and m.content.strip()), None
        )
        if example.prompt is not None and example.text:
            user, reply = example.prompt, example.text
        if user and reply:
            pairs.append(Pair(user.strip()[:SEED_CHARS], reply.strip()[:SEED_CHARS]))
    return pairs


def build_prompt(seeds: Sequence[Pair]) -> str:
    blocks = [f"### Instruction:\n{p.instruction}\n\n### Response:\n{p.response}\n" for p in seeds]
    return HEADER + "\n".join(blocks) + "\n### Instruction:\n"


def self_instruct(
    spec: SelfInstructSpec,
    name: str,
    load: Callable[[], Generator | None],
    seeds: Sequence[Example],
    seed: int,
    progress: ProgressFn,
) -> SelfInstructResult:
    """The generated examples, from the cache when this exact request was made before.
    `name` identifies the generator; `load` gives it only on a cache miss (None: not here)."""
    pool = seed_pairs(seeds)
    if not pool:
        raise DataError(
            "no seed example has both a user and an assistant turn to imitate",
            field=f"{FIELD}.seeds",
        )
    key = cache_key(
        {
            "spec": spec.model_dump(),
            "seed": seed,
            "model": name,
            "seeds": hashlib.sha256(repr(pool).encode()).hexdigest(),
            "format": build_prompt([]),
        }
    )
    cached = read_cached("self_instruct", key)
    if cached is not None:
        return _from_cache(cached)
    generator = load()
    if generator is None:
        raise DataError(
            f"model {spec.model!r} means the run's base model, which is not loaded here, and "
            "no earlier generation for these settings is cached; prepare the data once with the "
            "model loaded (the grow pipeline does), or name a model source",
            field=f"{FIELD}.model",
        )
    result = _generate(spec, generator, _fitting(pool, spec, generator), seed, progress)
    write_cached(
        "self_instruct",
        key,
        {
            "pairs": [[question_of(e), answer_of(e)] for e in result.examples],
            "attempts": result.attempts,
            "rejected": result.rejected,
        },
    )
    return result


def _generate(
    spec: SelfInstructSpec,
    generator: Generator,
    pool: Sequence[Pair],
    seed: int,
    progress: ProgressFn,
) -> SelfInstructResult:
    rng = random.Random(f"self_instruct:{seed}")
    result = SelfInstructResult([], 0)
    limit = spec.max_attempts or 4 * spec.count
    task = f"self-instruct ({generator.name})"
    progress(task, 0, spec.count)
    while len(result.examples) < spec.count and result.attempts < limit:
        chosen = rng.sample(list(pool), min(spec.seeds_per_prompt, len(pool)))
        ids = _prompt_ids(chosen, spec, generator)
        text, finished = generate_text(
            generator,
            ids,
            seed=seed * 1_000_003 + result.attempts,
            max_new_tokens=spec.max_new_tokens,
            temperature=spec.temperature,
            top_p=spec.top_p,
        )
        result.attempts += 1
        pair, why = parse_pair(text, finished)
        if pair is None:
            result.rejected[why or "unparsed"] = result.rejected.get(why or "unparsed", 0) + 1
            continue
        result.examples.append(_example(pair, len(result.examples) + 1))
        progress(task, len(result.examples), spec.count)
    return result


def _encode(generator: Generator, text: str) -> list[int]:
    return [int(i) for i in generator.tokenizer(text, add_special_tokens=False)["input_ids"]]


def _fitting(pool: Sequence[Pair], spec: SelfInstructSpec, generator: Generator) -> list[Pair]:
    """Seeds that fit the model's context on their own, with room for the answer."""
    limit = generator.max_positions
    if limit is None:
        return list(pool)
    room = limit - spec.max_new_tokens
    kept = [p for p in pool if len(_encode(generator, build_prompt([p]))) <= room]
    if not kept:
        raise DataError(
            f"no seed fits the model's context ({limit} tokens) with max_new_tokens="
            f"{spec.max_new_tokens} left to answer; lower max_new_tokens or use shorter seeds",
            field=FIELD,
        )
    return kept


def _prompt_ids(chosen: list[Pair], spec: SelfInstructSpec, generator: Generator) -> list[int]:
    """The prompt's tokens; seeds are dropped from the end until it leaves room to answer."""
    limit = generator.max_positions
    ids = _encode(generator, build_prompt(chosen))
    while limit is not None and len(ids) + spec.max_new_tokens > limit and len(chosen) > 1:
        chosen = chosen[:-1]
        ids = _encode(generator, build_prompt(chosen))
    return ids


def _example(pair: Pair, line: int) -> Example:
    turns = (Message("user", pair.instruction), Message("assistant", pair.response))
    return Example(turns, None, line, source=SOURCE)


def _from_cache(value: dict[str, Any]) -> SelfInstructResult:
    pairs = [Pair(str(q), str(a)) for q, a in value.get("pairs", [])]
    examples = [_example(p, i) for i, p in enumerate(pairs, start=1)]
    return SelfInstructResult(
        examples, int(value.get("attempts", 0)), dict(value["rejected"]), True
    )
