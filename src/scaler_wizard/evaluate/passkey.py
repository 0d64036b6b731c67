"""Passkey retrieval (Mohtashami & Jaggi, the prompt PI, YaRN and LongLoRA reuse) at set lengths."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from scaler_wizard.evaluate.prompt_length import count_tokens, fit_filler_chars
from scaler_wizard.recipe.spec import PasskeySpec

INTRO = (
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
    "them. I will quiz you about the important information there."
)
GARBAGE = (
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
)
NEEDLE = "The pass key is {key}. Remember it. {key} is the pass key."
QUESTION = "What is the pass key? The pass key is"
MAX_NEW_TOKENS = 8
_FIRST_INTEGER = re.compile(r"\d+")

Progress = Callable[[int, int], None]


class PasskeyPrompt(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    token_count: int
    depth: float  # fraction of the garbage placed before the needle
    passkey: int


class PasskeySample(BaseModel):
    model_config = ConfigDict(frozen=True)

    depth: float
    passkey: int
    token_count: int
    generated: str
    correct: bool


class PasskeyLengthResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    length: int
    accuracy: float
    trials: int
    samples: list[PasskeySample]


class PasskeyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    lengths: list[PasskeyLengthResult]

    def accuracy_by_length(self) -> dict[str, float]:
        """{"16384": 1.0, ...}: the manifest's `metrics.*.passkey` shape (JSON keys are strings)."""
        return {str(item.length): item.accuracy for item in self.lengths}


def passkey_lengths(spec: PasskeySpec, target_length: int) -> list[int]:
    """The recipe's lengths (sorted, deduplicated), or just the target context."""
    lengths = sorted(set(spec.lengths)) if spec.lengths else [target_length]
    if any(length < 1 for length in lengths):
        raise ValueError(f"passkey lengths must be positive, got {lengths}")
    return lengths


def trial_depths(trials: int) -> list[float]:
    """Depths spread evenly inside (0, 1) with equal gaps at both ends: 1 trial → [0.5]."""
    return [(i + 1) / (trials + 1) for i in range(trials)]


def score_passkey(generated: str, passkey: int) -> bool:
    """Landmark/YaRN scoring: the first integer in the continuation must equal the key."""
    found = _FIRST_INTEGER.search(generated)
    return found is not None and int(found.group()) == passkey


def render_prompt(garbage_chars: int, depth: float, passkey: int) -> str:
    """The exact landmark-attention prompt; prefix and suffix both slice the garbage's start."""
    prefix_chars = round(garbage_chars * depth)
    haystack = " ".join([GARBAGE] * (garbage_chars // len(GARBAGE) + 1))
    lines = [
        INTRO,
        haystack[:prefix_chars],
        NEEDLE.format(key=passkey),
        haystack[: garbage_chars - prefix_chars],
        QUESTION,
    ]
    return "\n".join(lines)


def build_passkey_prompt(
    tokenizer: Any, target_tokens: int, depth: float, passkey: int
) -> PasskeyPrompt:
    """A prompt of at most `target_tokens` and at least 1% fewer, the needle at `depth`.

    No chat template, even for chat models: the papers test base-style completion.
    The length search is `fit_filler_chars` (a binary search over garbage characters).
    """
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must be within [0, 1], got {depth}")
    chars_per_token = len(GARBAGE) / max(1, count_tokens(tokenizer, GARBAGE))
    chars, tokens = fit_filler_chars(
        tokenizer,
        lambda n: render_prompt(n, depth, passkey),
        target_tokens,
        chars_per_token,
        what="passkey prompt",
    )
    text = render_prompt(chars, depth, passkey)
    return PasskeyPrompt(text=text, token_count=tokens, depth=depth, passkey=passkey)


def generate_continuation(model: Any, tokenizer: Any, prompt: str) -> str:
    """Greedy `MAX_NEW_TOKENS` continuation of a plain prompt, decoded without special tokens.

    generate() passes logits_to_keep=1 to models that accept it, so the prefill never builds
    [tokens x vocab] logits (9 GiB for Qwen2.5 at 16k); the all-ones mask lets SDPA take its
    causal path instead of materialising a [tokens x tokens] mask. A prefix-tuned model goes
    through `generate_with_prefix` (PEFT's own generate ignores the prefix on transformers 5).
    """
    import torch

    from scaler_wizard.evaluate.generation import generate_with_prefix

    encoded = tokenizer(prompt, return_tensors="pt")
    input_ids = encoded["input_ids"].to(next(model.parameters()).device)
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    output = generate_with_prefix(
        model,
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=MAX_NEW_TOKENS,
        do_sample=False,
        pad_token_id=pad_id,
    )
    return str(tokenizer.decode(output[0, input_ids.shape[1] :], skip_special_tokens=True))


def run_passkey(
    model: Any,
    tokenizer: Any,
    lengths: list[int],
    trials: int,
    seed: int = 0,
    progress: Progress | None = None,
) -> PasskeyResult:
    """Passkey accuracy per prompt length; depths spread evenly, 5-digit keys from `seed`.

    The same seed gives the same keys and prompts, so base and grown models face the same test.
    """
    import torch

    if trials < 1:
        raise ValueError("trials must be at least 1")
    rng = random.Random(seed)
    depths = trial_depths(trials)
    total, done = len(lengths) * trials, 0
    was_training = bool(model.training)
    model.eval()
    results: list[PasskeyLengthResult] = []
    try:
        with torch.inference_mode():
            for length in lengths:
                samples: list[PasskeySample] = []
                for depth in depths:
                    key = rng.randint(10_000, 99_999)
                    # Prompt and answer together fit the tested window.
                    budget = length - MAX_NEW_TOKENS
                    prompt = build_passkey_prompt(tokenizer, budget, depth, key)
                    generated = generate_continuation(model, tokenizer, prompt.text)
                    samples.append(
                        PasskeySample(
                            depth=depth,
                            passkey=key,
                            token_count=prompt.token_count,
                            generated=generated,
                            correct=score_passkey(generated, key),
                        )
                    )
                    done += 1
                    if progress is not None:
                        progress(done, total)
                accuracy = sum(sample.correct for sample in samples) / len(samples)
                results.append(
                    PasskeyLengthResult(
                        length=length, accuracy=accuracy, trials=trials, samples=samples
                    )
                )
    finally:
        model.train(was_training)
    return PasskeyResult(lengths=results)
