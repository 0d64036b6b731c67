"""`linear`: Position Interpolation (Chen et al. 2023): every frequency divided by s."""

from __future__ import annotations

from scaler_wizard.context.base import NoOptions, RopeGeometry, RopeUpdate, scale_of

SUMMARY = "Position Interpolation: all frequencies / s; needs fine-tuning (~200-1000 steps)."


def linear_engine(geometry: RopeGeometry, target_length: int, options: NoOptions) -> RopeUpdate:
    s = scale_of(geometry, target_length)
    rope = {**geometry.unscaled(), "rope_type": "linear", "factor": s}
    return RopeUpdate(
        rope=rope,
        # Not used by the linear maths; it is the limit the rest of the stack reads.
        max_position_embeddings=target_length,
        factor=s,
        notes=(f"linear factor {s:g}: positions compressed {s:g}× into the native range",),
    )
