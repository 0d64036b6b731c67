"""Checks shared by adapter strategies: which linear layers an option targets, and rank bounds.

PEFT reports a misspelt target module or an impossible rank deep inside `get_peft_model`, after
the model is loaded and partly wrapped; these checks say the same before anything changes, name
the option's path, and list what the model actually offers. They read only names and shapes, so
they also work on a model built on the meta device.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scaler_wizard.growth.base import GrowthError

ALL_LINEAR = "all-linear"


@dataclass(frozen=True)
class LinearLayer:
    name: str
    in_features: int
    out_features: int

    @property
    def max_rank(self) -> int:
        # A rank above min(in, out) adds parameters without adding expressiveness; PEFT's SVD
        # based inits (PiSSA, OLoRA, AdaLoRA's allocator) also break on it.
        return min(self.in_features, self.out_features)

    def describe(self) -> str:
        return f"{self.name} ({self.in_features}→{self.out_features})"


def linear_layers(model: Any) -> list[LinearLayer]:
    """Every linear layer PEFT can adapt: nn.Linear and GPT-2 style Conv1D (weight is in×out)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    layers = []
    for name, module in model.named_modules():
        parts = name.split(".")
        if any(p.startswith("lora_") for p in parts):
            continue  # an existing adapter's own matrices are never a target
        if parts[-1] == "base_layer":  # an already adapted layer is targeted by its own name
            name = ".".join(parts[:-1])
        if isinstance(module, torch.nn.Linear):
            layers.append(LinearLayer(name, module.in_features, module.out_features))
        elif isinstance(module, Conv1D):
            rows, cols = module.weight.shape
            layers.append(LinearLayer(name, int(rows), int(cols)))
    return layers


def resolve_targets(
    model: Any,
    target_modules: Sequence[str] | str,
    path: str = "growth.options.target_modules",
) -> list[LinearLayer]:
    """The linear layers `target_modules` selects, matched as PEFT does (exact name or suffix).

    Raises GrowthError for a name that selects no linear layer, listing the ones there are.
    """
    layers = linear_layers(model)
    if isinstance(target_modules, str):
        if target_modules != ALL_LINEAR:
            raise GrowthError(path, f"expected a list of module names or {ALL_LINEAR!r}")
        head = _output_head_name(model)
        chosen = [layer for layer in layers if layer.name != head]
    else:
        chosen = []
        for key in target_modules:
            hits = [x for x in layers if x.name == key or x.name.endswith(f".{key}")]
            if not hits:
                available = ", ".join(sorted({x.name.rsplit(".", 1)[-1] for x in layers}))
                raise GrowthError(
                    path, f"unknown target module {key!r}; linear modules here: {available}"
                )
            chosen.extend(x for x in hits if x not in chosen)
    if not chosen:
        raise GrowthError(path, "the model has no linear layers to adapt")
    return chosen


def check_rank(layers: Sequence[LinearLayer], rank: int, path: str, field: str = "r") -> None:
    """Raise unless `rank` fits the smallest targeted layer."""
    smallest = min(layers, key=lambda x: x.max_rank)
    if rank > smallest.max_rank:
        raise GrowthError(
            path,
            f"{field}={rank} is larger than the smallest targeted layer allows: "
            f"{smallest.describe()} takes {field} ≤ {smallest.max_rank}",
        )


def check_patterns(
    layers: Sequence[LinearLayer], patterns: Mapping[str, int], path: str, *, are_ranks: bool
) -> None:
    """Each PEFT pattern key (a name or regex, matched on a suffix) must select a targeted layer.

    For rank patterns the rank must also fit every layer the key selects.
    """
    for key, value in patterns.items():
        try:
            hits = [x for x in layers if re.match(rf"(.*\.)?({key})$", x.name)]
        except re.error as exc:
            raise GrowthError(f"{path}.{key}", f"not a valid pattern: {exc}") from None
        if not hits:
            names = ", ".join(sorted({x.name.rsplit(".", 1)[-1] for x in layers}))
            raise GrowthError(
                f"{path}.{key}", f"matches no targeted module; targeted modules: {names}"
            )
        if are_ranks:
            check_rank(hits, value, f"{path}.{key}", field="rank")


def _output_head_name(model: Any) -> str | None:
    """PEFT's 'all-linear' leaves out the output head (it maps to the vocabulary); so do we."""
    getter = getattr(model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    if head is None:
        return None
    for name, module in model.named_modules():
        if module is head:
            return str(name).removesuffix(".base_layer")
    return None
