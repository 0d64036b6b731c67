"""Does the model keep to its chat template? Greedy replies to held-out conversation prefixes
must end with the end-of-turn token (or EOS) within a token budget, and must not write the
template's own text: special tokens, a new turn's header, or a made-up "User:" line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from scaler_wizard.evaluate.chat_markers import ChatMarkers, chat_markers, role_leaks
from scaler_wizard.evaluate.held_out import model_device
from scaler_wizard.evaluate.multi_turn import Conversation

Progress = Callable[[int, int], None]
SAMPLES_KEPT = 5  # failing replies quoted in the result
PROMPT_TAIL_TOKENS = 48


class ReplyCheck(BaseModel):
    """One generated reply, judged against the template."""

    model_config = ConfigDict(frozen=True)

    reply: str  # decoded with special tokens kept, without the closing stop token
    new_tokens: int  # generated tokens, the stop token included
    stopped: bool  # ended with a stop token within the budget
    leaks: list[str]

    @property
    def adheres(self) -> bool:
        return self.stopped and not self.leaks


class AdherenceSample(BaseModel):
    model_config = ConfigDict(frozen=True)

    turn: int
    prompt_tail: str  # the end of the prompt, enough to see which turn was answered
    reply: str
    new_tokens: int
    stopped: bool
    leaks: list[str]


class AdherenceResult(BaseModel):
    """Rates over every reply generated; a few failures are kept to read."""

    model_config = ConfigDict(frozen=True)

    prompts: int
    max_new_tokens: int
    end_of_turn: str | None
    stop_tokens: list[str]
    stop_rate: float  # replies that ended at the end-of-turn token (or EOS) within the budget
    leak_rate: float  # replies that wrote template text (special tokens, role headers)
    adherence_rate: float  # stopped and clean
    failures: list[AdherenceSample]


def check_reply(tokenizer: Any, new_ids: Sequence[int], markers: ChatMarkers) -> ReplyCheck:
    """Judge generated ids: generation stops at the first stop id, so one inside `new_ids`
    means the reply ended on its own; the text before it is checked for template leaks."""
    stops = set(markers.stop_token_ids)
    ended = next((i for i, token in enumerate(new_ids) if int(token) in stops), None)
    body = list(new_ids if ended is None else new_ids[:ended])
    text = str(tokenizer.decode(body, skip_special_tokens=False))
    used = len(new_ids) if ended is None else ended + 1
    return ReplyCheck(
        reply=text, new_tokens=used, stopped=ended is not None, leaks=role_leaks(text, markers)
    )


def greedy_reply(
    model: Any,
    tokenizer: Any,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    stop_ids: Sequence[int],
) -> list[int]:
    """The new token ids of a greedy continuation that stops at any of `stop_ids`.

    `generate_with_prefix` so a prefix-tuned model generates from its prefix; generate() keeps
    only the last position's logits in the prefill, so long prompts never build full logits.
    """
    import torch

    from scaler_wizard.evaluate.generation import generate_with_prefix

    input_ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=model_device(model))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    output = generate_with_prefix(
        model,
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=list(stop_ids),
        pad_token_id=pad,
    )
    new = [int(token) for token in output[0, input_ids.shape[1] :].tolist()]
    # Batch-of-one generation pads nothing, but a stop mid-batch would; cut after the stop.
    stops = set(stop_ids)
    ended = next((i for i, token in enumerate(new) if token in stops), None)
    return new if ended is None else new[: ended + 1]


def evaluate_adherence(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Conversation],
    *,
    max_new_tokens: int = 64,
    max_prompts: int | None = None,
    progress: Progress | None = None,
) -> AdherenceResult:
    """Generate a reply at every assistant turn of `conversations` (the prefix before the
    turn, generation prompt included, exactly as tokenized for training) and check each."""
    import torch

    if max_new_tokens < 1:
        raise ValueError("max_new_tokens must be at least 1")
    markers = chat_markers(tokenizer)
    if not markers.stop_token_ids:
        raise ValueError("the tokenizer has neither an end-of-turn token nor an EOS token")
    prompts = [(c, r) for c in conversations for r in c.replies]
    if max_prompts is not None:
        prompts = prompts[:max_prompts]
    if not prompts:
        raise ValueError("no conversation with an assistant reply to generate for")
    checks: list[tuple[int, str, ReplyCheck]] = []
    was_training = bool(model.training)
    model.eval()
    try:
        with torch.inference_mode():
            for done, (conversation, reply) in enumerate(prompts, 1):
                prompt = conversation.input_ids[: reply.start]
                new = greedy_reply(model, tokenizer, prompt, max_new_tokens, markers.stop_token_ids)
                tail = str(
                    tokenizer.decode(prompt[-PROMPT_TAIL_TOKENS:], skip_special_tokens=False)
                )
                checks.append((reply.turn, tail, check_reply(tokenizer, new, markers)))
                if progress is not None:
                    progress(done, len(prompts))
    finally:
        model.train(was_training)
    count = len(checks)
    failures = [
        AdherenceSample(turn=turn, prompt_tail=tail, **check.model_dump())
        for turn, tail, check in checks
        if not check.adheres
    ]
    return AdherenceResult(
        prompts=count,
        max_new_tokens=max_new_tokens,
        end_of_turn=markers.end_of_turn,
        stop_tokens=[str(tokenizer.convert_ids_to_tokens(i)) for i in markers.stop_token_ids],
        stop_rate=sum(check.stopped for _, _, check in checks) / count,
        leak_rate=sum(bool(check.leaks) for _, _, check in checks) / count,
        adherence_rate=sum(check.adheres for _, _, check in checks) / count,
        failures=failures[:SAMPLES_KEPT],
    )
