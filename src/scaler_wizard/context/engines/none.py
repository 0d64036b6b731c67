"""`none`: leave RoPE exactly as it is (existing scaling included)."""

from __future__ import annotations

from scaler_wizard.context.base import NoOptions, RopeGeometry, RopeUpdate

SUMMARY = "Leave positions as they are (no RoPE change)."


def none_engine(geometry: RopeGeometry, target_length: int, options: NoOptions) -> RopeUpdate:
    return RopeUpdate(
        rope=dict(geometry.rope),
        max_position_embeddings=geometry.max_position_embeddings,
        factor=1.0,
        notes=("RoPE left unchanged",),
    )
