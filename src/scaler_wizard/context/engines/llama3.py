"""`llama3`: Llama 3.1's wavelength-piecewise scaling (short wavelengths kept, long ones / s)."""

from __future__ import annotations

from pydantic import Field, model_validator

from scaler_wizard.context.base import EngineOptions, RopeGeometry, RopeUpdate, scale_of

SUMMARY = "Llama 3.1 scaling: wavelengths > L/low kept ÷ s, < L/high kept, smooth between."


class Llama3Options(EngineOptions):
    low_freq_factor: float = Field(1.0, gt=0, description="Wavelengths above L/this are ÷ s.")
    high_freq_factor: float = Field(4.0, gt=0, description="Wavelengths below L/this are kept.")

    @model_validator(mode="after")
    def _ordered(self) -> Llama3Options:
        if self.high_freq_factor <= self.low_freq_factor:
            raise ValueError("high_freq_factor must be greater than low_freq_factor")
        return self


def llama3_engine(geometry: RopeGeometry, target_length: int, options: Llama3Options) -> RopeUpdate:
    s = scale_of(geometry, target_length)
    rope = {
        **geometry.unscaled(),
        "rope_type": "llama3",
        "factor": s,
        "low_freq_factor": options.low_freq_factor,
        "high_freq_factor": options.high_freq_factor,
        "original_max_position_embeddings": geometry.native_length,
    }
    return RopeUpdate(
        rope=rope,
        max_position_embeddings=target_length,
        factor=s,
        notes=(
            f"llama3 factor {s:g} over original {geometry.native_length}; "
            f"low/high freq factors {options.low_freq_factor:g}/{options.high_freq_factor:g}",
        ),
    )
