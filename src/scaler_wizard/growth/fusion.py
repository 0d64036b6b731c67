"""Fusion: several trained LoRA adapters combined into one with PEFT's `add_weighted_adapter`.

The fused adapter is named `default`, so the rest of the run (training, adapter export,
merge) treats it exactly like a fresh LoRA. Fusion refuses a model that already carries an
adapter: PEFT keeps one active LoRA per model, and a fresh LoRA added earlier is zero at init
so there is nothing to fuse it with. To train a new adapter on top of a fusion, list `fusion`
first with `merge_into_base: true`, then `lora`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from scaler_wizard.growth.base import GrowthContext, GrowthError, GrowthReport

FusionMethod = Literal["linear", "cat", "ties", "dare_linear", "dare_ties", "svd"]
# PEFT stacks A and B of these per rank position, so every source must share one rank.
SAME_RANK_METHODS = {"linear", "ties", "dare_linear", "dare_ties"}
DENSITY_METHODS = {"ties", "dare_linear", "dare_ties"}
FUSED = "default"


def read_adapter_config(folder: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(folder) / "adapter_config.json").read_text())
    return data


def adapter_rank(config: dict[str, Any]) -> int:
    # PEFT allocates the fused tensors from the largest rank an adapter uses anywhere.
    return max([int(config["r"]), *(int(r) for r in (config.get("rank_pattern") or {}).values())])


class FusionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    adapters: list[str] = Field(
        min_length=1, description="Folders of saved PEFT LoRA adapters (e.g. a run's adapter/)."
    )
    weights: list[float] = Field(min_length=1, description="One weight per adapter.")
    method: FusionMethod = Field(
        "cat",
        description="PEFT combination_type. 'cat' is exact (rank = sum of ranks); 'linear' "
        "needs equal ranks and is exact only where the adapters target different modules.",
    )
    density: float | None = Field(
        None,
        gt=0,
        le=1,
        validate_default=True,  # so a ties/dare method without one is caught
        description="Fraction of values kept; ties/dare methods only.",
    )
    merge_into_base: bool = Field(False, description="Fold into the base weights: plain model.")

    @field_validator("adapters")
    @classmethod
    def _adapters_exist(cls, adapters: list[str]) -> list[str]:
        kinds = set()
        for i, folder in enumerate(adapters):
            where = f"adapters[{i}] ({folder})"
            if not (Path(folder).expanduser() / "adapter_config.json").is_file():
                raise ValueError(f"{where}: no adapter_config.json; expected a saved PEFT adapter")
            config = read_adapter_config(str(Path(folder).expanduser()))
            if config.get("peft_type") != "LORA":
                raise ValueError(f"{where}: peft_type {config.get('peft_type')!r}, not LORA")
            if config.get("use_dora"):
                raise ValueError(f"{where}: DoRA magnitudes cannot be fused by PEFT")
            kinds.add(isinstance(config.get("target_modules"), str))
        if len(kinds) > 1:
            raise ValueError("adapters mix regex and list target_modules; PEFT cannot fuse those")
        return [str(Path(a).expanduser()) for a in adapters]

    @field_validator("weights")
    @classmethod
    def _one_weight_each(cls, weights: list[float], info: ValidationInfo) -> list[float]:
        adapters = info.data.get("adapters")
        if adapters is not None and len(weights) != len(adapters):
            raise ValueError(f"{len(weights)} weights for {len(adapters)} adapters; give one each")
        return weights

    @field_validator("method")
    @classmethod
    def _ranks_fit(cls, method: str, info: ValidationInfo) -> str:
        adapters = info.data.get("adapters") or []
        if method in SAME_RANK_METHODS and len(adapters) > 1:
            ranks = {a: adapter_rank(read_adapter_config(a)) for a in adapters}
            if len(set(ranks.values())) > 1:
                listed = ", ".join(f"r={r} ({a})" for a, r in ranks.items())
                raise ValueError(
                    f"method {method!r} needs adapters of equal rank (PEFT requirement); got "
                    f"{listed}. Use 'cat' (exact) or 'svd' for different ranks"
                )
        return method

    @field_validator("density")
    @classmethod
    def _density_fits_method(cls, density: float | None, info: ValidationInfo) -> float | None:
        method = info.data.get("method")
        if method in DENSITY_METHODS and density is None:
            raise ValueError(f"method {method!r} needs a density in (0, 1], e.g. 0.5")
        if method not in DENSITY_METHODS and density is not None and method is not None:
            raise ValueError(f"density applies to {sorted(DENSITY_METHODS)}, not {method!r}")
        return density


def apply_fusion(
    model: Any, options: FusionOptions, context: GrowthContext
) -> tuple[Any, GrowthReport]:
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    from scaler_wizard.models.loader import count_parameters

    if hasattr(model, "peft_config"):
        raise GrowthError(
            "growth.strategy",
            "the model already carries an adapter from an earlier growth step; list `fusion` "
            "before it (use merge_into_base: true to add a fresh LoRA on top of the fusion)",
        )
    warnings = check_adapters_fit(model, options.adapters)
    before, _ = count_parameters(model)
    base_grad = {name: p.requires_grad for name, p in model.named_parameters()}
    sources = [f"source_{i}" for i in range(len(options.adapters))]
    grown = PeftModel.from_pretrained(model, options.adapters[0], adapter_name=sources[0])
    for name, folder in zip(sources[1:], options.adapters[1:], strict=True):
        grown.load_adapter(folder, adapter_name=name)
    grown.add_weighted_adapter(
        sources, options.weights, FUSED, combination_type=options.method, density=options.density
    )
    fused: Any = grown.peft_config[FUSED]  # a LoraConfig; PEFT types it as the base
    # PEFT gives the fused adapter alpha = r, i.e. scaling 1, and the sources' scalings are
    # already folded into its tensors; an inherited rsLoRA flag would rescale it by sqrt(r).
    fused.use_rslora = False
    for module in grown.modules():
        if isinstance(module, LoraLayer) and FUSED in module.scaling:
            module.scaling[FUSED] = 1.0
    grown.set_adapter(FUSED)  # also marks the fused adapter trainable: training continues it
    for name in sources:
        grown.delete_adapter(name)
    details: dict[str, Any] = {
        "method": options.method,
        "weights": options.weights,
        "sources": options.adapters,
        "r": fused.r,
        "target_modules": sorted(fused.target_modules)
        if not isinstance(fused.target_modules, str)
        else fused.target_modules,
        "merged_into_base": options.merge_into_base,
    }
    if options.density is not None:
        details["density"] = options.density
    if warnings:
        details["warnings"] = warnings
    if options.merge_into_base:
        grown = grown.merge_and_unload()
        # A plain model again: trainability as before fusion, so later strategies start clean.
        for name, param in grown.named_parameters():
            param.requires_grad = base_grad.get(name, param.requires_grad)
    after, trainable = count_parameters(grown)
    return grown, GrowthReport(
        strategy="fusion",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details=details,
    )


def check_adapters_fit(model: Any, adapters: list[str]) -> list[str]:
    """Compare each adapter's tensor shapes with the model's modules before loading anything.

    Returns warnings (a different recorded base model); raises GrowthError on a real mismatch,
    which PEFT would otherwise report deep inside `load_state_dict`.
    """
    from safetensors import safe_open

    warnings = []
    own_name = str(getattr(model, "name_or_path", "") or "")
    for i, folder in enumerate(adapters):
        where = f"adapters[{i}] ({folder})"
        recorded = str(read_adapter_config(folder).get("base_model_name_or_path") or "")
        if recorded and own_name and recorded != own_name:
            warnings.append(f"{where} was trained on {recorded!r}, this model is {own_name!r}")
        weights = Path(folder) / "adapter_model.safetensors"
        if not weights.is_file():
            continue  # a .bin adapter: PEFT's own loader checks it
        with safe_open(str(weights), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                problem = _shape_problem(model, key, list(handle.get_slice(key).get_shape()))
                if problem:
                    raise GrowthError("growth.options.adapters", f"{where}: {problem}")
    return warnings


def _shape_problem(model: Any, key: str, shape: list[int]) -> str | None:
    if ".lora_A." not in key and ".lora_B." not in key:
        return None
    module_name, part = key.removeprefix("base_model.model.").split(".lora_", 1)
    try:
        module = model.get_submodule(module_name)
    except AttributeError:
        return f"targets module {module_name!r}, which this model does not have"
    if part.startswith("A") and getattr(module, "in_features", shape[1]) != shape[1]:
        return f"{module_name} takes {module.in_features} inputs, adapter expects {shape[1]}"
    if part.startswith("B") and getattr(module, "out_features", shape[0]) != shape[0]:
        return f"{module_name} gives {module.out_features} outputs, adapter expects {shape[0]}"
    return None
