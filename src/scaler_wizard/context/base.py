"""Types shared by every context engine: the geometry an engine reads and the update it returns.

Engines are pure functions of plain data (no torch, no transformers): transformers does the
frequency maths itself once the RoPE dict is written into the config before instantiation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict

# Keys that describe a *scaling* on top of plain RoPE. Everything else in the dict (rope_theta,
# partial_rotary_factor, mrope_section, model-specific keys) is geometry and is always kept.
SCALING_KEYS = frozenset(
    {
        "type",  # legacy spelling of rope_type
        "rope_type",
        "factor",
        "original_max_position_embeddings",
        "attention_factor",
        "beta_fast",
        "beta_slow",
        "mscale",
        "mscale_all_dim",
        "truncate",
        "short_factor",
        "long_factor",
        "low_freq_factor",
        "high_freq_factor",
    }
)


class EngineOptions(BaseModel):
    """Base of every engine's options: a typo in `context.options` is an error, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(EngineOptions):
    """For engines that take no options."""


@dataclass(frozen=True)
class RopeGeometry:
    """What an engine needs to know about the model, read once by the planner."""

    rope: Mapping[str, Any]  # the current full RoPE dict (rope_type, rope_theta, ...)
    rope_theta: float
    rotary_dim: int  # head_dim * partial_rotary_factor: the `d` of every formula
    native_length: int  # pre-training context L: original_max_position_embeddings if scaled
    max_position_embeddings: int  # what the config allows now (≥ native if already scaled)

    def unscaled(self) -> dict[str, Any]:
        """The current dict with any existing scaling removed: the base every engine builds on.

        New factors are relative to the native length, so the old scaling is replaced, never
        stacked (double scaling is the classic mistake, LongLoRA PR #113, vLLM #55116).
        """
        kept = {k: v for k, v in self.rope.items() if k not in SCALING_KEYS}
        return {"rope_type": "default", **kept, "rope_theta": self.rope_theta}


@dataclass(frozen=True)
class RopeUpdate:
    """An engine's answer: the full new RoPE dict, the limit to write, and why."""

    rope: dict[str, Any]
    max_position_embeddings: int
    factor: float  # the scale this engine applies (for reports)
    notes: tuple[str, ...] = field(default=())  # plain-words reasons
    warnings: tuple[str, ...] = field(default=())  # risks the user should see
    inference_only: bool = False  # True when frequencies depend on the input length


# An engine: (geometry, target_length, validated options) -> update. Options are typed per
# engine; `Any` here lets each engine declare its own options class.
ContextEngine: TypeAlias = Callable[[RopeGeometry, int, Any], RopeUpdate]


def scale_of(geometry: RopeGeometry, target_length: int) -> float:
    """s = T / L_orig, the one ratio every static engine is built on."""
    return target_length / geometry.native_length
