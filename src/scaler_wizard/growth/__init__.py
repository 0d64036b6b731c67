"""Growth strategies: one file each, an options model and an apply function, registered by name."""

from __future__ import annotations

from scaler_wizard.growth.adalora import AdaLoraOptions, apply_adalora
from scaler_wizard.growth.base import GrowthContext, GrowthReport, GrowthStrategy, TrainingNeeds
from scaler_wizard.growth.block_expansion import BlockExpansionOptions, apply_block_expansion
from scaler_wizard.growth.fusion import FusionOptions, apply_fusion
from scaler_wizard.growth.ia3 import IA3Options, apply_ia3
from scaler_wizard.growth.layer_replication import LayerReplicationOptions, apply_layer_replication
from scaler_wizard.growth.lora import LoraOptions, apply_lora
from scaler_wizard.growth.prefix import PrefixOptions, apply_prefix
from scaler_wizard.growth.vocabulary import VocabularyOptions, apply_vocabulary
from scaler_wizard.registry import Registry


def register_growth_strategies(registry: Registry[GrowthStrategy]) -> None:
    registry.register(
        "lora",
        LoraOptions,
        apply_lora,
        "Low-rank adapters (PEFT) on chosen linear layers; DoRA and rsLoRA as flags.",
    )
    registry.register(
        "adalora",
        AdaLoraOptions,
        apply_adalora,
        "AdaLoRA (PEFT): adapters start at init_r and training prunes them to an average target_r.",
    )
    registry.register(
        "fusion",
        FusionOptions,
        apply_fusion,
        "Trained LoRA adapters fused into one (PEFT add_weighted_adapter), optionally merged.",
    )
    registry.register(
        "vocabulary",
        VocabularyOptions,
        apply_vocabulary,
        "New tokens with mean- or text-initialised rows; only the new rows train.",
    )
    registry.register(
        "ia3",
        IA3Options,
        apply_ia3,
        "(IA)³ (PEFT): learned vectors rescaling chosen activations; identity at init.",
    )
    registry.register(
        "prefix",
        PrefixOptions,
        apply_prefix,
        "Prefix tuning (PEFT): learned key/value prefix per layer; rows unpacked, not mergeable.",
    )
    registry.register(
        "block_expansion",
        BlockExpansionOptions,
        apply_block_expansion,
        "LLaMA-Pro: insert identity-initialised copies of decoder blocks; only new blocks train.",
    )
    registry.register(
        "layer_replication",
        LayerReplicationOptions,
        apply_layer_replication,
        "Deeper stack of shared-weight blocks (PEFT), a LoRA per copy; merge via merge_replicated.",
    )


__all__ = [
    "GrowthContext",
    "GrowthReport",
    "GrowthStrategy",
    "TrainingNeeds",
    "register_growth_strategies",
]
