"""Growth strategies: one file each, an options model and an apply function, registered by name."""

from __future__ import annotations

from scaler_wizard.growth.base import GrowthContext, GrowthReport, GrowthStrategy, TrainingNeeds
from scaler_wizard.growth.lora import LoraOptions, apply_lora
from scaler_wizard.registry import Registry


def register_growth_strategies(registry: Registry[GrowthStrategy]) -> None:
    registry.register(
        "lora",
        LoraOptions,
        apply_lora,
        "Low-rank adapters (PEFT) on chosen linear layers; DoRA and rsLoRA as flags.",
    )


__all__ = [
    "GrowthContext",
    "GrowthReport",
    "GrowthStrategy",
    "TrainingNeeds",
    "register_growth_strategies",
]
