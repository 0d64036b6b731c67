"""`dynamic`: Dynamic NTK (emozilla): the base grows with the input length at run time.

transformers uses `max_position_embeddings` as the threshold L, so it must stay at the native
length; and its `factor` enters as b·(f·ℓ/L − (f−1))^(d/(d−2)), so f = T/L would give an
effective ratio of s² − s + 1 at ℓ = T. The paper's s = max(1, ℓ/L) is f = 1.
"""

from __future__ import annotations

from pydantic import Field

from scaler_wizard.context.base import EngineOptions, RopeGeometry, RopeUpdate

SUMMARY = "Dynamic NTK at inference: base grows with input length; never for training."


class DynamicOptions(EngineOptions):
    factor: float = Field(
        1.0, ge=1.0, description="transformers' dynamic factor; 1 = the paper's Dynamic NTK, ≤ 2."
    )


def dynamic_engine(
    geometry: RopeGeometry, target_length: int, options: DynamicOptions
) -> RopeUpdate:
    rope = {**geometry.unscaled(), "rope_type": "dynamic", "factor": options.factor}
    notes = (
        f"dynamic factor {options.factor:g}; max_position_embeddings stays "
        f"{geometry.native_length} (the length above which the base starts to grow)",
        "inputs up to the native length use the original frequencies exactly",
    )
    warnings: tuple[str, ...] = ()
    if options.factor > 2:
        s = target_length / geometry.native_length
        ratio = options.factor * s - (options.factor - 1)
        warnings = (
            f"dynamic factor {options.factor:g} over-scales: the base grows as for ×{ratio:g} "
            f"at the target instead of ×{s:g}; use 1-2",
        )
    return RopeUpdate(
        rope=rope,
        max_position_embeddings=geometry.native_length,
        factor=options.factor,
        notes=notes,
        warnings=warnings,
        inference_only=True,
    )
