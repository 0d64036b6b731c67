"""Block expansion (LLaMA-Pro): insert copies of decoder blocks that start as the identity.

Each new block is a deep copy of an existing one with its attention and MLP output projections
zeroed, so in a pre-norm residual block both sub-layers add 0 and the step-0 logits are
unchanged. Only the new blocks train (optionally the norms too); the old ones stay frozen, which
is what keeps the base model's knowledge intact.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scaler_wizard.growth.base import GrowthContext, GrowthError, GrowthReport
from scaler_wizard.growth.decoder_layers import (
    STRATEGY_PATH,
    find_decoder_layers,
    output_projections,
    probe_logits,
    renumber,
    set_depth,
)
from scaler_wizard.models.loader import unwrap

# The new blocks add exact zeros, so any difference beyond float noise means a block is not the
# identity on this architecture (e.g. post-norm, or a projection guessed wrongly).
IDENTITY_TOLERANCE = 1e-4


class BlockExpansionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_blocks: int = Field(..., ge=1, le=256, description="Decoder blocks to insert.")
    placement: Literal["interleave", "top"] = Field(
        "interleave",
        description="'interleave': one after every k-th block, evenly; 'top': after the last.",
    )
    train: Literal["new_blocks", "new_blocks_and_norms"] = Field(
        "new_blocks",
        description="What trains: only the new blocks, or also every normalisation layer.",
    )


def plan_sources(depth: int, new_blocks: int, placement: str) -> list[int]:
    """Old block indices to copy, each copy inserted right after its source (ascending)."""
    if placement == "top":
        return [depth - 1] * new_blocks
    if new_blocks > depth:
        raise GrowthError(
            "growth.options.new_blocks",
            f"interleave places at most one new block per existing block ({depth}); "
            f"got {new_blocks} — use placement 'top' or fewer blocks",
        )
    # After the last block of each of `new_blocks` equal groups (LLaMA-Pro's layout).
    return [(group + 1) * depth // new_blocks - 1 for group in range(new_blocks)]


def apply_block_expansion(
    model: Any, options: BlockExpansionOptions, context: GrowthContext
) -> tuple[Any, GrowthReport]:
    from scaler_wizard.models.loader import count_parameters

    found = find_decoder_layers(model)
    config = getattr(unwrap(model), "config", None)
    if config is None or getattr(config, "is_heterogeneous", False):
        # Without a config the new depth cannot be saved; per-layer configs would need a new entry.
        raise GrowthError(STRATEGY_PATH, "needs a transformers model with a homogeneous config")
    old_layers, depth = found.layers, len(found.layers)
    old_config = {k: getattr(config, k, None) for k in ("num_hidden_layers", "layer_types")}
    sources = plan_sources(depth, options.new_blocks, options.placement)
    before, _ = count_parameters(model)
    expected = probe_logits(model)

    blocks: list[Any] = []
    origin: list[int] = []
    new: list[Any] = []
    for index, block in enumerate(old_layers):
        blocks.append(block)
        origin.append(index)
        for _ in range(sources.count(index)):
            clone = copy.deepcopy(block)
            _zero_output_projections(clone)
            blocks.append(clone)
            origin.append(index)
            new.append(clone)
    found.replace(blocks)
    renumber(found.layers)
    set_depth(model, origin)

    max_diff = float((probe_logits(model) - expected).abs().max())
    if max_diff > IDENTITY_TOLERANCE * max(1.0, float(expected.abs().max())):
        # Undo, so the caller still holds the model it passed in.
        found.replace(list(old_layers))
        renumber(found.layers)
        for key, value in old_config.items():
            if value is not None:
                setattr(config, key, value)
        raise GrowthError(
            STRATEGY_PATH,
            f"inserted blocks are not the identity on {type(unwrap(model)).__name__} "
            f"(logits moved by {max_diff:.3g}); block expansion needs pre-norm residual blocks",
        )

    _freeze_all_but(model, new, with_norms=options.train == "new_blocks_and_norms")
    after, trainable = count_parameters(model)
    inserted_at = [i for i, block in enumerate(found.layers) if any(block is b for b in new)]
    return model, GrowthReport(
        strategy="block_expansion",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details={
            "inserted_at": inserted_at,
            "copied_from": sources,
            "layers_before": depth,
            "layers_after": len(found.layers),
            "placement": options.placement,
            "train": options.train,
            "zeroed": sorted(output_projections(new[0])),
            "layers_path": found.path,
            "max_logit_diff": max_diff,
        },
    )


def _zero_output_projections(block: Any) -> None:
    import torch

    with torch.no_grad():
        for module in output_projections(block).values():
            module.weight.zero_()
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()


def _freeze_all_but(model: Any, new_blocks: list[Any], with_norms: bool) -> None:
    for param in model.parameters():
        param.requires_grad_(False)
    for block in new_blocks:
        for param in block.parameters():
            param.requires_grad_(True)
    if with_norms:
        # Matches LayerNorm, RMSNorm and model-specific subclasses (LlamaRMSNorm, ...).
        for module in model.modules():
            if "norm" in type(module).__name__.lower():
                for param in module.parameters(recurse=False):
                    param.requires_grad_(True)
