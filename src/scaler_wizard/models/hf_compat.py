"""The one place that knows how transformers 4 (`rope_scaling`) and 5 (`rope_parameters`) differ."""

from __future__ import annotations

from typing import Any

ROPE_KEYS_V4_TOP_LEVEL = ("rope_theta",)


def uses_rope_parameters(config: Any) -> bool:
    """transformers 5 keeps every RoPE setting, `rope_theta` included, in `rope_parameters`."""
    return isinstance(getattr(config, "rope_parameters", None), dict)


def read_rope(config: Any) -> dict[str, Any] | None:
    """The model's RoPE settings as one dict (`rope_type`, `rope_theta`, ...); None if not RoPE."""
    if uses_rope_parameters(config):
        params = dict(config.rope_parameters)
        if "rope_theta" not in params and "full_attention" in params:  # per-layer-type configs
            params = dict(params["full_attention"])
        return params if "rope_theta" in params else None
    theta = getattr(config, "rope_theta", None)
    if theta is None:
        return None
    scaling = dict(getattr(config, "rope_scaling", None) or {})
    if "type" in scaling and "rope_type" not in scaling:
        scaling["rope_type"] = scaling.pop("type")
    return {"rope_type": "default", **scaling, "rope_theta": float(theta)}


def write_rope(config: Any, params: dict[str, Any], *, replace: bool = False) -> None:
    """Write a complete RoPE dict back, merged the way the installed transformers expects.

    `replace=True` drops keys absent from `params` (e.g. yarn's `beta_fast` when switching to
    linear) instead of merging; `params` must then be the full dict, `rope_theta` included.
    """
    if "rope_theta" not in params:
        raise ValueError("RoPE parameters must keep rope_theta")
    if uses_rope_parameters(config):
        if rope_is_per_layer(config):  # merging at the top level would corrupt a nested dict
            raise ValueError("per-layer-type RoPE parameters cannot be written as one dict")
        config.rope_parameters = dict(params) if replace else {**config.rope_parameters, **params}
        return
    scaling = {k: v for k, v in params.items() if k != "rope_theta"}
    config.rope_theta = params["rope_theta"]
    config.rope_scaling = None if scaling.get("rope_type") == "default" else scaling


def native_context(config: Any) -> int:
    """The pre-training context: `original_max_position_embeddings` if scaling exists, else max."""
    rope = read_rope(config) or {}
    original = rope.get("original_max_position_embeddings") or getattr(
        config, "original_max_position_embeddings", None
    )
    return int(original or config.max_position_embeddings)


def uses_alibi(config: Any) -> bool:
    return bool(getattr(config, "alibi", False)) or getattr(config, "model_type", "") in {
        "bloom",
        "mpt",
    }


def rope_is_per_layer(config: Any) -> bool:
    """transformers 5 may nest `rope_parameters` by layer type (Gemma 3: sliding/full layers)."""
    params = getattr(config, "rope_parameters", None)
    return (
        isinstance(params, dict)
        and "rope_theta" not in params
        and any(isinstance(v, dict) for v in params.values())
    )


def rotary_dim(config: Any) -> int:
    """Rotated dims per head: `head_dim * partial_rotary_factor` (inside the RoPE dict in v5,
    a top-level attribute, or GPT-NeoX's `rotary_pct`, in v4)."""
    rope = read_rope(config) or {}
    fraction = (
        rope.get("partial_rotary_factor")
        or getattr(config, "partial_rotary_factor", None)
        or getattr(config, "rotary_pct", None)
        or 1.0
    )
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return int(head_dim * fraction)
