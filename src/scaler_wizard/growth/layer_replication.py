"""Layer replication through PEFT LoRA's `layer_replication`: a deeper stack, shared weights.

PEFT rebuilds the block list from ranges (`[[0, 4], [2, 5]]` on 5 blocks → 0 1 2 3 2 3 4); the
copies share the base weights and each gets its own LoRA. LoRA B starts at zero, so every block
computes what its source computes — but a repeated block is *applied again*, so the step-0
function only stays the same when the ranges list every block exactly once, in order (e.g.
`[[0, n]]`, `[[0, 3], [3, n]]`). No LoRA initialisation can cancel a repeated block (that needs
a delta of full rank), so other ranges are allowed but reported with `function_preserving: False`
and a warning.

Merging needs care: PEFT (0.21) does not refuse it, yet folds every copy's LoRA into the one
shared tensor, which is wrong. `merge_replicated` unties the copies first; export must use it.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scaler_wizard.growth.base import GrowthContext, GrowthError, GrowthReport
from scaler_wizard.growth.decoder_layers import find_decoder_layers, set_depth
from scaler_wizard.models.loader import unwrap

LAYERS_PATH = "growth.options.layers"


class LayerReplicationOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layers: list[tuple[int, int]] = Field(
        ...,
        min_length=1,
        description="PEFT ranges [start, end) of existing blocks, stacked in order, "
        "e.g. [[0, 16], [8, 24]] repeats blocks 8-15.",
    )
    r: int = Field(8, ge=1, le=1024, description="LoRA rank of every copy's adapter.")
    alpha: int | None = Field(None, ge=1, description="Scaling numerator; default 2×r.")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt, or 'all-linear'."
    )


def layer_sequence(ranges: list[tuple[int, int]]) -> list[int]:
    """The old block index at each position of the replicated stack."""
    return [i for start, end in ranges for i in range(start, end)]


def is_function_preserving(ranges: list[tuple[int, int]], depth: int) -> bool:
    return layer_sequence(ranges) == list(range(depth))


def apply_layer_replication(
    model: Any, options: LayerReplicationOptions, context: GrowthContext
) -> tuple[Any, GrowthReport]:
    from peft import LoraConfig, get_peft_model

    from scaler_wizard.models.loader import count_parameters

    depth = len(find_decoder_layers(model).layers)
    for start, end in options.layers:
        if not 0 <= start < end <= depth:
            raise GrowthError(
                LAYERS_PATH, f"range [{start}, {end}) is not within the model's {depth} blocks"
            )
    sequence = layer_sequence(options.layers)
    preserving = sequence == list(range(depth))
    if not preserving:
        warnings.warn(
            f"layer_replication {options.layers} changes the model's function at step 0: "
            "repeated blocks are applied again (only ranges listing every block once, in "
            "order, preserve it)",
            stacklevel=2,
        )
    before, _ = count_parameters(model)
    config = LoraConfig(
        r=options.r,
        lora_alpha=options.alpha or 2 * options.r,
        lora_dropout=options.dropout,
        target_modules=options.target_modules,
        layer_replication=list(options.layers),
        task_type="CAUSAL_LM",
    )
    try:
        grown = get_peft_model(model, config)
    except ValueError as exc:  # PEFT's own "could not locate the layers" refusal
        raise GrowthError("growth.strategy", str(exc)) from exc
    found = find_decoder_layers(grown)
    if len(found.layers) != len(sequence):
        raise GrowthError(
            "growth.strategy",
            f"PEFT replicated a different block list than {found.path}; unsupported layout",
        )
    # PEFT sets num_hidden_layers but not layer_types, which caches and masks are built from.
    set_depth(grown, sequence)
    after, trainable = count_parameters(grown)
    return grown, GrowthReport(
        strategy="layer_replication",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details={
            "layers_before": depth,
            "layers_after": len(sequence),
            "layer_sequence": sequence,
            "effective_parameters": effective_parameters(grown),
            "effective_parameters_note": "each replicated block's weights counted once per use "
            "in the stack (compute and merged-export size); parameters_after counts shared "
            "tensors once (memory while training)",
            "function_preserving": preserving,
            "r": options.r,
            "alpha": config.lora_alpha,
        },
    )


def effective_parameters(model: Any) -> int:
    """Parameters with every block counted once per position in the stack (shared or not)."""
    from scaler_wizard.models.loader import count_parameters

    total, _ = count_parameters(model)
    layers = find_decoder_layers(model).layers
    unique_in_layers, _ = count_parameters(layers)
    per_use = sum(count_parameters(block)[0] for block in layers)
    return total - unique_in_layers + per_use


def is_replicated(model: Any) -> bool:
    configs = getattr(model, "peft_config", None)
    return isinstance(configs, dict) and any(
        getattr(c, "layer_replication", None) for c in configs.values()
    )


def untie_replicated_layers(model: Any) -> int:
    """Give every block position its own copy of any tensor an earlier position also uses.

    The function is unchanged; afterwards each copy's LoRA can merge into its own weights and
    the saved checkpoint has one distinct tensor per layer. Returns the number of tensors copied.
    """
    from torch import nn

    seen: set[int] = set()
    copied = 0
    for block in find_decoder_layers(model).layers:
        for module in block.modules():
            for name, param in list(module.named_parameters(recurse=False)):
                if id(param) in seen:
                    clone = nn.Parameter(param.detach().clone(), requires_grad=param.requires_grad)
                    module.register_parameter(name, clone)
                    copied += 1
                else:
                    seen.add(id(param))
    return copied


def merge_replicated(model: Any) -> Any:
    """`merge_and_unload` that is correct for replicated layers (plain merge otherwise)."""
    if not is_replicated(model):
        return model.merge_and_unload()
    untie_replicated_layers(model)
    configs = list(model.peft_config.values())
    saved = [c.layer_replication for c in configs]
    # The weights are no longer shared, so merging per copy is sound; clearing the flag keeps a
    # future PEFT that refuses merging replicated layers from refusing this one.
    for c in configs:
        c.layer_replication = None
    try:
        merged = model.merge_and_unload()
    finally:
        for c, value in zip(configs, saved, strict=True):
            c.layer_replication = value
    # Plain model, plain architecture: the stack is now ordinary, num_hidden_layers deep.
    unwrap(merged).config.num_hidden_layers = len(find_decoder_layers(merged).layers)
    return merged
