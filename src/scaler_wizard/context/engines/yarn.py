"""`yarn`: YaRN (Peng et al. 2023): NTK-by-parts frequencies + attention temperature.

Written so that every transformers version reads it the same way (reference §1.6):
factor = T/L, original_max_position_embeddings = L, max_position_embeddings = T.
"""

from __future__ import annotations

import math

from pydantic import Field, model_validator

from scaler_wizard.context.base import EngineOptions, RopeGeometry, RopeUpdate, scale_of

SUMMARY = "YaRN: NTK-by-parts + attention temperature; the default for fine-tuning."


class YarnOptions(EngineOptions):
    beta_fast: float = Field(32.0, gt=0, description="Pairs rotating more often keep θ (α=32).")
    beta_slow: float = Field(1.0, gt=0, description="Pairs rotating less often get θ/s (β=1).")
    attention_factor: float | None = Field(
        None, gt=0, description="cos/sin multiplier; default 0.1·ln(s) + 1 (set by transformers)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> YarnOptions:
        if self.beta_fast <= self.beta_slow:
            raise ValueError("beta_fast must be greater than beta_slow")
        return self


def yarn_attention_factor(s: float) -> float:
    """√(1/t) = 0.1·ln(s) + 1; applied to cos and sin, so the logits get its square."""
    return 1.0 if s <= 1 else 0.1 * math.log(s) + 1.0


def yarn_engine(geometry: RopeGeometry, target_length: int, options: YarnOptions) -> RopeUpdate:
    s = scale_of(geometry, target_length)
    rope = {
        **geometry.unscaled(),
        "rope_type": "yarn",
        "factor": s,
        # Always explicit: v5 silently fills it from an already-raised max_position_embeddings.
        "original_max_position_embeddings": geometry.native_length,
        "beta_fast": options.beta_fast,
        "beta_slow": options.beta_slow,
    }
    if options.attention_factor is not None:
        rope["attention_factor"] = options.attention_factor
    attention = options.attention_factor or yarn_attention_factor(s)
    return RopeUpdate(
        rope=rope,
        max_position_embeddings=target_length,
        factor=s,
        notes=(
            f"yarn factor {s:g} over original {geometry.native_length}; "
            f"β {options.beta_fast:g}/{options.beta_slow:g}; attention factor {attention:.4f}"
            + ("" if options.attention_factor else " (0.1·ln s + 1, computed by transformers)"),
        ),
    )
