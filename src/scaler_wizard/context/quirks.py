"""Model quirks that ride along with an extension: Mistral-style sliding windows."""

from __future__ import annotations

from typing import Any


def sliding_window_update(
    config: Any, target_length: int
) -> tuple[dict[str, int | None], list[str], list[str]]:
    """Raise a sliding window that would hide most of the extended context.

    Returns (config updates, reasons, warnings). Only a window that every layer uses is raised
    (Mistral v0.1: YaRN set it to the context size). Models that mix sliding and full layers by
    design (Gemma, Qwen2 with max_window_layers) keep their local layers as trained.
    """
    window = getattr(config, "sliding_window", None)
    if not isinstance(window, int) or window >= target_length:
        return {}, [], []
    if getattr(config, "use_sliding_window", True) is False:  # Qwen2: the field is inert
        return {}, [], []
    layer_types = getattr(config, "layer_types", None) or []
    if "full_attention" in layer_types:
        return (
            {},
            [],
            [
                f"sliding_window {window} left as is: this model mixes sliding-window and "
                "full-attention layers by design; only its full layers see the whole context"
            ],
        )
    reason = (
        f"sliding_window raised from {window} to {target_length}: with the window kept, each "
        f"layer would attend only {window} tokens back and the extension would be wasted"
    )
    warning = (
        f"attention beyond the trained sliding window ({window}) is new to this model; "
        "fine-tuning at the target length is advised"
    )
    return {"sliding_window": target_length}, [reason], [warning]
