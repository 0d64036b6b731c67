"""Memory a long-context evaluation needs: weights, the KV cache, one layer's activations.

Checked against SmolLM2-135M (fp32, SDPA, CPU, passkey prompts): peak RSS 0.97 / 1.21 / 1.89 /
2.45 GiB at 1k / 4k / 8k / 16k tokens, measured once by hand while building the passkey
evaluator (`benchmarks/context_engines.py` now records `peak_rss_gib` per run, at 16k with
long-document perplexity on top); this model says 1.07 / 1.28 / 1.56 / 2.13.
The growth per token matches (0.07 GiB per 1k tokens); the measured offset varies by up to
0.35 GiB, so the estimate is for refusing plans that cannot fit, not for exact budgeting.
"""

from __future__ import annotations

from typing import Any

GIB = 2**30
RUNTIME_GIB = 0.5  # Python, torch, tokenizer and allocator slack: a constant offset
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def estimate_eval_memory_gib(config: Any, tokens: int, dtype: str = "float32") -> float:
    """Peak memory to run one forward (and decode) over `tokens` tokens with a KV cache."""
    width = DTYPE_BYTES.get(dtype, 4)
    hidden = int(config.hidden_size)
    layers = int(config.num_hidden_layers)
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or hidden // heads)
    intermediate = int(getattr(config, "intermediate_size", None) or 4 * hidden)
    vocab = int(config.vocab_size)
    weights = _parameters(hidden, layers, heads, kv_heads, head_dim, intermediate, vocab)
    kv_cache = 2 * layers * kv_heads * head_dim * tokens
    # One layer at a time: the MLP's gate/up/act and a few hidden-size buffers are alive.
    activations = tokens * (3 * intermediate + 4 * hidden)
    return (weights + kv_cache + activations) * width / GIB + RUNTIME_GIB


def _parameters(
    hidden: int,
    layers: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    intermediate: int,
    vocab: int,
) -> int:
    attention = hidden * head_dim * (2 * heads + 2 * kv_heads)
    mlp = 3 * hidden * intermediate
    return layers * (attention + mlp + 2 * hidden) + vocab * hidden
