"""Fixtures for the context tests: the built-in engine registry and small configs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scaler_wizard.context import ContextEngine, default_context_registry
from scaler_wizard.registry import Registry


@pytest.fixture(scope="session")
def registry() -> Registry[ContextEngine]:
    return default_context_registry()


def llama_config(native: int = 2048, theta: float = 1e4, head_dim: int = 64, **kwargs: Any) -> Any:
    """A LlamaConfig with the given RoPE geometry; no weights are built."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=32,
        hidden_size=2 * head_dim,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=head_dim,
        max_position_embeddings=native,
        rope_theta=theta,
        **kwargs,
    )


@pytest.fixture()
def make_llama() -> Callable[..., Any]:
    return llama_config
