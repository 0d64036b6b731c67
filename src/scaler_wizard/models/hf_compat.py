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


def write_rope(config: Any, params: dict[str, Any]) -> None:
    """Write a complete RoPE dict back, merged the way the installed transformers expects."""
    if "rope_theta" not in params:
        raise ValueError("RoPE parameters must keep rope_theta")
    if uses_rope_parameters(config):
        config.rope_parameters = {**config.rope_parameters, **params}
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
    return bool(getattr(config, "alibi", False)) or getattr(config, "model_type", "") in {"bloom", "mpt"}
