"""Load a config, then instantiate the model from it (context changes go into the config first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_config(path: Path) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path)


def load_model(path: Path, config: Any, dtype: str = "float32", attention: str = "sdpa") -> Any:
    """Instantiate weights from `path` with a (possibly modified) `config`.

    `dtype` and `attention` come resolved from `models.runtime.resolve_runtime` ('auto' is not
    accepted here). A model loaded with 'sdpa' runs `packed_attention.PACKED_SDPA`: the same
    SDPA, but one call per record on packed rows."""
    import torch
    from transformers import AutoModelForCausalLM

    from scaler_wizard.models.packed_attention import enable_packed_attention

    model = AutoModelForCausalLM.from_pretrained(
        path, config=config, dtype=getattr(torch, dtype), attn_implementation=attention
    )
    enable_packed_attention(model)  # sdpa, attending per record on packed rows
    return model


def unwrap(model: Any) -> Any:
    """The transformers model under a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def count_parameters(model: Any) -> tuple[int, int]:
    """(total, trainable) parameters; shared (tied) tensors counted once."""
    seen: set[int] = set()
    total = trainable = 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        trainable += param.numel() if param.requires_grad else 0
    return total, trainable
