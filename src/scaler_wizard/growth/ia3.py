"""(IA)³ through PEFT: learned vectors that rescale chosen activations.

Attention-style targets get their outputs scaled; feed-forward targets get their inputs
scaled (the paper scales the FFN's intermediate activation, i.e. the input of `down_proj`).
The vectors start at 1, so the grown model computes exactly what the base model did.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from scaler_wizard.growth.base import GrowthContext, GrowthError, GrowthReport


class IA3Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_modules: list[str] | None = Field(
        None,
        min_length=1,
        description="Module names to rescale; default: PEFT's choice for the architecture "
        "(Llama: k_proj, v_proj, down_proj).",
    )
    feedforward_modules: list[str] | None = Field(
        None,
        description="Targets whose input (not output) is rescaled; must be among "
        "target_modules. Default: PEFT's choice when target_modules is default, else none.",
    )

    @field_validator("feedforward_modules")
    @classmethod
    def _subset_of_targets(
        cls, modules: list[str] | None, info: ValidationInfo
    ) -> list[str] | None:
        targets = info.data.get("target_modules")
        if modules is None or "target_modules" not in info.data:
            return modules  # nothing to compare with (or target_modules already failed)
        if targets is None:
            raise ValueError("set target_modules too: feedforward_modules must be among them")
        stray = sorted(set(modules) - set(targets))
        if stray:
            raise ValueError(f"{stray} not in target_modules {targets}")
        return modules


def apply_ia3(model: Any, options: IA3Options, context: GrowthContext) -> tuple[Any, GrowthReport]:
    from peft import IA3Config, get_peft_model

    from scaler_wizard.models.loader import count_parameters

    if hasattr(model, "peft_config"):
        raise GrowthError(
            "growth.strategy",
            "the model already carries an adapter from an earlier growth step; PEFT holds one "
            "adapter type per model, so list `ia3` alone or merge the other adapter first",
        )
    if options.target_modules is not None:
        _check_targets_exist(model, options.target_modules)
    before, _ = count_parameters(model)
    feedforward = options.feedforward_modules
    if options.target_modules is not None and feedforward is None:
        feedforward = []  # explicit targets, no feed-forward named: scale every target's output
    config = IA3Config(
        target_modules=options.target_modules,
        feedforward_modules=feedforward,
        task_type="CAUSAL_LM",
    )
    grown = get_peft_model(model, config)
    resolved: Any = grown.peft_config["default"]  # an IA3Config; PEFT types it as the base
    after, trainable = count_parameters(grown)
    return grown, GrowthReport(
        strategy="ia3",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details={
            "target_modules": sorted(resolved.target_modules),
            "feedforward_modules": sorted(resolved.feedforward_modules),
        },
    )


def _check_targets_exist(model: Any, targets: list[str]) -> None:
    import torch

    names = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    # PEFT matches a target against the full module name or any dotted suffix of it.
    missing = [t for t in targets if not any(n == t or n.endswith(f".{t}") for n in names)]
    if missing:
        short = {n.rsplit(".", 1)[-1] for n in names}
        raise GrowthError(
            "growth.options.target_modules",
            f"no linear layer named {missing} in this model; it has {sorted(short)}",
        )
