"""What a chat template writes around the turns: the assistant header, the end-of-turn token,
the role headers and the special tokens, found by rendering sentinel conversations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Sentinels no template writes itself: where they land in a rendering locates the turns.
_USER = "Q7xSentinelQuestion"
_REPLY = "R9zSentinelReply"
# "User:" / "assistant :" at a line start: a transcript-style turn the model made up itself.
ROLE_LINE = re.compile(r"(?im)^[ \t]*(user|assistant|system|human)[ \t]*:")


class ChatTemplateError(ValueError):
    """The tokenizer has no chat template, or one that cannot render a plain conversation."""


@dataclass(frozen=True)
class ChatMarkers:
    """The template's fixed text, as the tokenizer renders and decodes it."""

    generation_prompt: str  # what add_generation_prompt appends, e.g. "<|im_start|>assistant\n"
    end_of_turn: str | None  # what closes an assistant turn, e.g. "<|im_end|>"; None: EOS only
    stop_token_ids: tuple[int, ...]  # ids that end a reply: the end-of-turn token and EOS
    headers: tuple[str, ...]  # role headers, e.g. "<|im_start|>user", "<|im_start|>assistant"
    special_tokens: tuple[str, ...]  # every special token's text

    @property
    def assistant_header(self) -> str:
        """The generation prompt without its trailing whitespace (counted to number turns)."""
        return self.generation_prompt.strip()


def render(tokenizer: Any, messages: Sequence[dict[str, str]], generation_prompt: bool) -> str:
    """The template's text for `messages`; a template failure becomes a ChatTemplateError."""
    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateError(
            "the tokenizer has no chat template; multi-turn evaluation renders conversations "
            "with it (set model.tokenizer.chat_template)"
        )
    try:
        text = tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=generation_prompt
        )
    except Exception as exc:  # jinja raises many types; all mean "cannot render this"
        raise ChatTemplateError(f"the chat template failed: {exc}") from exc
    return str(text)


def special_token_texts(tokenizer: Any) -> tuple[str, ...]:
    """Every special token's text (the named ones and the added ones marked special)."""
    tokens = {str(t) for t in getattr(tokenizer, "all_special_tokens", [])}
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens.update(str(t.content) for t in decoder.values() if getattr(t, "special", False))
    return tuple(sorted(t for t in tokens if t))


def chat_markers(tokenizer: Any) -> ChatMarkers:
    """Render [user], [user + generation prompt] and [user, assistant] and read the markers
    off the differences: no per-model table, so any template that renders works."""
    user = [{"role": "user", "content": _USER}]
    plain = render(tokenizer, user, False)
    prompted = render(tokenizer, user, True)
    generation_prompt = prompted[len(plain) :] if prompted.startswith(plain) else ""
    full = render(tokenizer, [*user, {"role": "assistant", "content": _REPLY}], False)
    specials = special_token_texts(tokenizer)
    end_of_turn = _end_of_turn(full[full.rfind(_REPLY) + len(_REPLY) :], specials)
    stops: list[int] = []
    if end_of_turn is not None:
        ids = tokenizer(end_of_turn, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:  # a multi-token closing text cannot be a generate() stop id
            stops.append(int(ids[0]))
    eos = tokenizer.eos_token_id
    for token in eos if isinstance(eos, list) else [eos]:
        if token is not None and int(token) not in stops:
            stops.append(int(token))
    headers = [_last_line(plain[: plain.find(_USER)]), _last_line(generation_prompt)]
    return ChatMarkers(
        generation_prompt=generation_prompt,
        end_of_turn=end_of_turn,
        stop_token_ids=tuple(stops),
        headers=tuple(h for h in dict.fromkeys(headers) if h),
        special_tokens=specials,
    )


def _end_of_turn(after_reply: str, specials: Sequence[str]) -> str | None:
    """The special token that closes the reply (ChatML's "<|im_end|>"), else the closing text."""
    text = after_reply.strip()
    if not text:
        return None
    starting = [token for token in specials if text.startswith(token)]
    return max(starting, key=len) if starting else text


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def role_leaks(reply: str, markers: ChatMarkers) -> list[str]:
    """What in a generated reply belongs to the template, not to the reply: special tokens,
    role headers, or a made-up "User:" line. Empty when the reply is clean."""
    found = [f"special token {token}" for token in markers.special_tokens if token in reply]
    found += [f"role header {header!r}" for header in markers.headers if header in reply]
    found += [f"role line {m.group(0).strip()!r}" for m in ROLE_LINE.finditer(reply)]
    return list(dict.fromkeys(found))
