"""Checks of growth options against the model's shape, before any weights are loaded.

The plan builds the model on the meta device (shapes, no memory) and runs each step's check,
so a bad target module, a rank larger than a layer, an out-of-range replication or adapters
that don't fit fail in seconds, not after minutes of loading and evaluation. Steps are checked
against the base model's shape. A plugin's options model joins in by defining
`preflight(self, model, context) -> None` that raises GrowthError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from scaler_wizard.growth.adalora import AdaLoraOptions, validate_adalora
from scaler_wizard.growth.base import GrowthContext, GrowthError
from scaler_wizard.growth.block_expansion import BlockExpansionOptions
from scaler_wizard.growth.decoder_layers import find_decoder_layers, output_projections
from scaler_wizard.growth.fusion import FusionOptions, check_adapters_fit
from scaler_wizard.growth.ia3 import IA3Options
from scaler_wizard.growth.layer_replication import LayerReplicationOptions
from scaler_wizard.growth.lora import LoraOptions, validate_lora
from scaler_wizard.growth.targets import resolve_targets
from scaler_wizard.recipe import RecipeError
from scaler_wizard.recipe.errors import Problem


def meta_model(config: Any) -> Any:
    """The model's module tree on the meta device: every name and shape, no weights."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]


def preflight_growth(
    model: Any, steps: Sequence[tuple[str, BaseModel]], context: GrowthContext
) -> None:
    """Raise RecipeError naming `growth[i].options.<field>` for the first step that can't work."""
    for index, (_, options) in enumerate(steps):
        try:
            check = _BUILT_IN.get(type(options))
            if check is not None:
                check(model, options, context)
            elif hasattr(options, "preflight"):
                options.preflight(model, context)
        except GrowthError as exc:
            raise RecipeError([Problem(exc.path_for(index), exc.message)]) from None


def _lora(model: Any, options: Any, context: GrowthContext) -> None:
    validate_lora(model, options.resolved(context, model)[0])


def _adalora(model: Any, options: Any, context: GrowthContext) -> None:
    validate_adalora(model, options, context.total_steps)


def _block_expansion(model: Any, options: Any, context: GrowthContext) -> None:
    found = find_decoder_layers(model)
    output_projections(found.layers[0])  # raises when the block's outputs can't be zeroed


def _layer_replication(model: Any, options: Any, context: GrowthContext) -> None:
    depth = len(find_decoder_layers(model).layers)
    for start, end in options.layers:
        if not 0 <= start < end <= depth:
            raise GrowthError(
                "growth.options.layers",
                f"range [{start}, {end}) is not within the model's {depth} blocks",
            )


def _fusion(model: Any, options: Any, context: GrowthContext) -> None:
    check_adapters_fit(model, options.adapters)


def _ia3(model: Any, options: Any, context: GrowthContext) -> None:
    if options.target_modules is not None:
        resolve_targets(model, options.target_modules)


_BUILT_IN: dict[type[BaseModel], Callable[[Any, Any, GrowthContext], None]] = {
    LoraOptions: _lora,
    AdaLoraOptions: _adalora,
    BlockExpansionOptions: _block_expansion,
    LayerReplicationOptions: _layer_replication,
    FusionOptions: _fusion,
    IA3Options: _ia3,
}
