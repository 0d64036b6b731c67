"""Every training-speed rewrite of a model's forward, switched on together.

Each keeps the model's values and gradients (to float rounding) and its parameters, so
checkpoints, adapters and exports are unchanged; each leaves alone what it cannot reproduce.
"""

from __future__ import annotations

from typing import Any


def enable_lean_kernels(model: Any) -> dict[str, int]:
    """Switch `model` to the lean forwards; returns how many modules each rewrite took (packed
    attention counts 1 when the model attends per record)."""
    from scaler_wizard.models.lean_lora import enable_lean_lora
    from scaler_wizard.models.lean_norm import enable_lean_norms
    from scaler_wizard.models.lean_swiglu import enable_lean_swiglu
    from scaler_wizard.models.packed_attention import enable_packed_attention

    return {
        # a model built in code, not by load_model, attends per record too
        "packed_attention": int(enable_packed_attention(model)),
        # one saved activation less per MLP
        "swiglu": enable_lean_swiglu(model),
        # torch's rms_norm in place of the model's own norm arithmetic
        "rms_norm": enable_lean_norms(model),
        # LoRA's scaling and sum inside its matmul
        "lora": enable_lean_lora(model),
    }
