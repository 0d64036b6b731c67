"""The tokenizer of a model folder as GGUF metadata: byte-level BPE (`tokenizer.ggml.model=gpt2`).

Tokens, token types and the pre-tokenizer name follow llama.cpp's `convert_hf_to_gguf.py`; the
merges and special token ids come from gguf's own `SpecialVocab`, the reader llama.cpp uses.
llama.cpp names a pre-tokenizer by hashing a tokenizer's output; here it is read from the
structure of `tokenizer.json`, which only recognises the common byte-level shapes below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler_wizard.artifacts.gguf_rope import GgufExportError

# gguf.TokenType values (kept as ints so this module does not need gguf to import).
NORMAL, UNUSED, CONTROL, USER_DEFINED = 1, 5, 3, 4
# The regexes of the Split pre-tokenizers llama.cpp knows by name.
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPLIT_NAMES = {LLAMA3_SPLIT: "llama-bpe", QWEN2_SPLIT: "qwen2"}
PROBE = "Hello world"


@dataclass(frozen=True)
class GgufVocab:
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    pre: str | None  # None: unrecognised; llama.cpp then falls back to its default split
    special_ids: dict[str, int]  # "bos", "eos", "unk", "pad" -> id
    add_bos: bool
    add_eos: bool
    chat_template: str | None
    caveats: tuple[str, ...] = ()


def read_vocab(folder: Path, vocab_size: int, tokenizer: Any) -> GgufVocab:
    """Everything llama.cpp needs to tokenize like `tokenizer` (loaded from `folder`)."""
    from gguf import SpecialVocab

    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    _require_byte_level(data)
    tokens, types = token_table(data, vocab_size)
    special = SpecialVocab(folder, load_merges=True, n_vocab=vocab_size)
    pre = pre_tokenizer_name(data.get("pre_tokenizer"))
    caveats = () if pre else (
        "the tokenizer's pre-tokenizer is not one llama.cpp knows by name: GGUF carries no "
        "tokenizer.ggml.pre, so llama.cpp splits text with its default rules and may tokenize "
        "some text differently from transformers",
    )  # fmt: skip
    ids = {
        name: int(value)
        for name in ("bos", "eos", "unk", "pad")
        if (value := getattr(tokenizer, f"{name}_token_id", None)) is not None
    }
    probe = tokenizer(PROBE)["input_ids"]
    return GgufVocab(
        tokens=tokens,
        token_types=types,
        merges=list(special.merges),
        pre=pre,
        special_ids=ids,
        # What the tokenizer really does, not what a config flag claims.
        add_bos="bos" in ids and bool(probe) and probe[0] == ids["bos"],
        add_eos="eos" in ids and bool(probe) and probe[-1] == ids["eos"],
        chat_template=getattr(tokenizer, "chat_template", None) or None,
        caveats=caveats,
    )


def token_table(data: dict[str, Any], vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens by id up to the model's vocabulary size; ids the tokenizer lacks are UNUSED pads."""
    by_id: dict[int, tuple[str, int]] = {
        index: (token, NORMAL) for token, index in data["model"]["vocab"].items()
    }
    for added in data.get("added_tokens", []):
        kind = CONTROL if added.get("special") or _looks_special(added["content"]) else USER_DEFINED
        by_id[int(added["id"])] = (added["content"], kind)
    if by_id and max(by_id) >= vocab_size:
        raise GgufExportError(
            f"the tokenizer has id {max(by_id)} but the model's vocabulary is {vocab_size}: "
            "resize the embeddings before exporting"
        )
    table = [by_id.get(i, (f"[PAD{i}]", UNUSED)) for i in range(vocab_size)]
    return [token for token, _ in table], [kind for _, kind in table]


def pre_tokenizer_name(pre: dict[str, Any] | None) -> str | None:
    """llama.cpp's name for a byte-level pre-tokenizer, or None when it is not a known shape."""
    if not pre:
        return None
    steps = pre.get("pretokenizers") or [] if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        return "smollm"  # digits one by one, then GPT-2's split
    if kinds == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
        return SPLIT_NAMES.get(str((steps[0].get("pattern") or {}).get("Regex")))
    return None


def _require_byte_level(data: dict[str, Any]) -> None:
    model = data.get("model") or {}
    decoder = (data.get("decoder") or {}).get("type")
    if model.get("type") != "BPE" or model.get("byte_fallback") or decoder != "ByteLevel":
        raise GgufExportError(
            "only byte-level BPE tokenizers (GPT-2 style: SmolLM2, Llama 3, Qwen2) can be "
            "exported; sentencepiece-style ones (Llama 2, Mistral 7B v0.x) need llama.cpp's "
            "convert_hf_to_gguf.py on the merged model folder"
        )


def _looks_special(token: str) -> bool:
    """An added token written like a control token (`<|im_start|>`), as llama.cpp checks."""
    return (token.startswith("<|") and token.endswith("|>")) or token == "<pad>"
