"""An Ollama `Modelfile` for an exported GGUF: template, system prompt, context and stops.

Ollama templates are Go templates, not Jinja, so the model's chat template is not copied: it is
rendered on a probe conversation, and when the result is exactly ChatML the Ollama ChatML
template is written (with the default system prompt the Jinja template inserts, if any). Any
other template gets no TEMPLATE line: Ollama then matches the chat template embedded in the
GGUF against the templates it knows, and a comment says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CHATML_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)
CHATML_STOPS = ("<|im_end|>", "<|im_start|>")
_PROBE = [
    {"role": "user", "content": "U1"},
    {"role": "assistant", "content": "A1"},
    {"role": "user", "content": "U2"},
]
_SYSTEM = re.compile(r"<\|im_start\|>system\n(.*?)<\|im_end\|>\n", re.DOTALL)


@dataclass(frozen=True)
class ChatFormat:
    template: str | None  # Go template, or None to let Ollama pick from the GGUF's template
    system: str | None  # the default system prompt the model's template inserts
    stops: tuple[str, ...]


def chat_format(tokenizer: Any) -> ChatFormat:
    """The Ollama equivalent of the tokenizer's chat template, as far as it can be known."""
    eos = getattr(tokenizer, "eos_token", None)
    eos_stops = (eos,) if isinstance(eos, str) and eos else ()
    if not getattr(tokenizer, "chat_template", None):
        return ChatFormat(None, None, eos_stops)
    with_system = _render(tokenizer, [{"role": "system", "content": "S"}, *_PROBE])
    without = _render(tokenizer, _PROBE)
    chatml = _chatml([("user", "U1"), ("assistant", "A1"), ("user", "U2")])
    if with_system != _chatml([("system", "S")]) + chatml or without is None:
        return ChatFormat(None, None, eos_stops)
    if without == chatml:
        system = None
    elif (found := _SYSTEM.match(without)) and without[found.end() :] == chatml:
        system = found.group(1)
    else:
        return ChatFormat(None, None, eos_stops)
    stops = tuple(dict.fromkeys((*CHATML_STOPS, *eos_stops)))
    return ChatFormat(CHATML_TEMPLATE, system, stops)


def render_modelfile(
    gguf_name: str,
    *,
    num_ctx: int,
    chat: ChatFormat,
    notes: tuple[str, ...] = (),
) -> str:
    """Modelfile text; `notes` become comments at the top (RoPE caveats, run-time flags)."""
    lines = [
        "# Ollama Modelfile written by Scaler Wizard.",
        "# Create the model with: ollama create <name> -f Modelfile",
    ]
    lines += [f"# NOTE: {note}" for note in notes]
    lines += ["", f"FROM ./{gguf_name}"]
    if chat.template is not None:
        lines.append(f'TEMPLATE """{chat.template}"""')
    else:
        lines.append(
            "# No TEMPLATE: the chat template is not ChatML, so Ollama picks one matching the "
            "template embedded in the GGUF (tokenizer.chat_template)."
        )
    if chat.system:
        lines.append(f'SYSTEM """{chat.system.replace(chr(34) * 3, chr(39) * 3)}"""')
    lines.append(f"PARAMETER num_ctx {num_ctx}")
    lines += [f'PARAMETER stop "{stop}"' for stop in chat.stops if '"' not in stop]
    return "\n".join(lines) + "\n"


def _chatml(turns: list[tuple[str, str]]) -> str:
    body = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in turns)
    return body + ("<|im_start|>assistant\n" if turns and turns[-1][0] != "system" else "")


def _render(tokenizer: Any, messages: list[dict[str, str]]) -> str | None:
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # a template that rejects the probe (e.g. no system role) is not ChatML
        return None
    return text if isinstance(text, str) else None
