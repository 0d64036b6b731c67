"""Shapes of the models the persona templates use, so a recommendation works offline.

Copied from each model's published config.json; only the fields the memory model reads.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

_SHAPES: dict[str, dict[str, Any]] = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": {
        "hidden_size": 576,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "intermediate_size": 1536,
        "vocab_size": 49152,
        "tie_word_embeddings": True,
        "max_position_embeddings": 8192,
    },
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": {
        "hidden_size": 2048,
        "num_hidden_layers": 22,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "intermediate_size": 5632,
        "vocab_size": 32000,
        "tie_word_embeddings": False,
        "max_position_embeddings": 2048,
    },
    "Qwen/Qwen2.5-0.5B-Instruct": {
        "hidden_size": 896,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "intermediate_size": 4864,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
        "max_position_embeddings": 32768,
    },
    "mistralai/Mistral-7B-Instruct-v0.2": {
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 14336,
        "vocab_size": 32000,
        "tie_word_embeddings": False,
        "max_position_embeddings": 32768,
    },
}
EMBEDDED = "HuggingFaceTB/SmolLM2-135M-Instruct"


def template_model_config(source: str) -> Any | None:
    """A config-like object for a template's model source ('embedded' included), or None."""
    shape = _SHAPES.get(EMBEDDED if source == "embedded" else source)
    return SimpleNamespace(**shape) if shape else None
