"""LoRA through PEFT: DoRA and rsLoRA as flags, a choice of init, LoRA+ and per-module patterns."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scaler_wizard.growth.base import GrowthContext, GrowthReport
from scaler_wizard.growth.rank import resolve_rank
from scaler_wizard.growth.targets import LinearLayer, check_patterns, check_rank, resolve_targets

LoraInit = Literal["default", "gaussian", "pissa", "olora"]
# Our names → PEFT's `init_lora_weights`. PiSSA runs 4 randomized-SVD iterations instead of a
# full SVD: seconds instead of minutes on large layers, with near-identical principal directions.
# Typed Any: PEFT's annotation spells the PiSSA variant as a literal placeholder string.
PEFT_INIT: dict[str, Any] = {
    "default": True,
    "gaussian": "gaussian",
    "pissa": "pissa_niter_4",
    "olora": "olora",
}
# These inits move the adapter's starting point out of the base weights (W = W_res + BA), so
# the wrapped model's base layers no longer hold the original W.
MODIFIES_BASE = frozenset({"pissa", "olora"})


class LoraOptions(BaseModel):
    """LoRA options.

    `init`: "default" (A Kaiming-uniform, B zero) and "gaussian" (A normal) start as the identity:
    the grown model computes exactly what the base did. "pissa" and "olora" start the adapter on
    the principal singular directions (PiSSA) or a QR basis (OLoRA) of each weight and subtract
    that part from the base weight in place, so the start is the identity up to float rounding
    and merging (`merge_and_unload`) adds it back: the merged model is correct. An adapter saved
    alone, however, belongs to the modified base weights, not to the original checkpoint; use
    the merged export, or PEFT's `path_initial_model_for_weight_conversion` to convert it.
    """

    model_config = ConfigDict(extra="forbid")

    r: Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] = Field(
        "auto", description="Rank, or 'auto' to resolve it from the planned data size."
    )
    alpha: int | None = Field(None, ge=1, description="Scaling numerator; default 2×r.")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt, or 'all-linear'."
    )
    use_dora: bool = Field(False, description="Weight-decomposed LoRA (DoRA).")
    use_rslora: bool = Field(False, description="Rank-stabilised scaling alpha/sqrt(r).")
    init: LoraInit = Field("default", description="Adapter init: default, gaussian, pissa, olora.")
    lora_plus_ratio: float | None = Field(
        None,
        ge=1,
        description="LoRA+: B matrices learn at lr × ratio (typical 16); None trains both alike.",
    )
    rank_pattern: dict[str, Annotated[int, Field(ge=1, le=1024)]] = Field(
        default_factory=dict,
        description="Module name or regex (matched on a suffix) → its own rank.",
    )
    alpha_pattern: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Module name or regex (matched on a suffix) → its own alpha.",
    )

    parameter_budget: int | None = Field(
        None, ge=1, description="With r: auto, the most trainable adapter parameters allowed."
    )
    memory_budget_gib: float | None = Field(
        None, gt=0, description="With r: auto, the most memory for adapter weights + AdamW states."
    )

    @model_validator(mode="after")
    def _budgets_need_auto_rank(self) -> LoraOptions:
        if self.r != "auto" and (self.parameter_budget or self.memory_budget_gib):
            raise ValueError("parameter_budget and memory_budget_gib choose the rank: set r: auto")
        return self

    def resolved(self, context: GrowthContext, model: Any = None) -> tuple[LoraOptions, str | None]:
        """Options with `r`/`alpha` filled in, and the reason when they were chosen for the user.

        `model` (a meta-device model is enough) lets budgets count the targeted layers.
        """
        if self.r != "auto":
            return self.model_copy(update={"alpha": self.alpha or 2 * self.r}), None
        per_rank = None
        if model is not None:
            layers = resolve_targets(model, self.target_modules)
            per_rank = sum(layer.in_features + layer.out_features for layer in layers)
        choice = resolve_rank(
            context.train_tokens,
            context.has_cuda,
            per_rank,
            self.parameter_budget,
            self.memory_budget_gib,
        )
        return self.model_copy(
            update={"r": choice.rank, "alpha": self.alpha or choice.alpha}
        ), choice.reason


def validate_lora(model: Any, options: LoraOptions) -> list[LinearLayer]:
    """The targeted layers, after checking names, rank and patterns against this model.

    `options.r` must be resolved (an int). Reads only names and shapes: a meta-device model works.
    """
    assert isinstance(options.r, int)
    layers = resolve_targets(model, options.target_modules)
    check_rank(layers, options.r, "growth.options.r")
    check_patterns(layers, options.rank_pattern, "growth.options.rank_pattern", are_ranks=True)
    check_patterns(layers, options.alpha_pattern, "growth.options.alpha_pattern", are_ranks=False)
    return layers


def apply_lora(
    model: Any, options: LoraOptions, context: GrowthContext
) -> tuple[Any, GrowthReport]:
    from peft import LoraConfig, get_peft_model

    from scaler_wizard.models.loader import count_parameters

    options, reason = options.resolved(context, model)
    assert isinstance(options.r, int)
    validate_lora(model, options)
    before, _ = count_parameters(model)
    config = LoraConfig(
        r=options.r,
        lora_alpha=options.alpha or 2 * options.r,
        lora_dropout=options.dropout,
        target_modules=options.target_modules,
        use_dora=options.use_dora,
        use_rslora=options.use_rslora,
        init_lora_weights=PEFT_INIT[options.init],
        rank_pattern=dict(options.rank_pattern),
        alpha_pattern=dict(options.alpha_pattern),
        task_type="CAUSAL_LM",
    )
    grown = get_peft_model(model, config)
    if options.lora_plus_ratio is not None:
        # LoRA+ (Hayou et al. 2024): B starts at zero and must move further than A, so a
        # larger learning rate on B alone speeds up and stabilises adapter training.
        context.needs.lr_multipliers["lora_B"] = options.lora_plus_ratio
    after, trainable = count_parameters(grown)
    details: dict[str, Any] = {"r": options.r, "alpha": config.lora_alpha, "init": options.init}
    details["target_modules"] = sorted(getattr(grown.peft_config["default"], "target_modules", []))
    if options.init in MODIFIES_BASE:
        details["base_weights_modified"] = True
    if options.lora_plus_ratio is not None:
        details["lora_plus_ratio"] = options.lora_plus_ratio
    for name in ("rank_pattern", "alpha_pattern"):
        if getattr(options, name):
            details[name] = dict(getattr(options, name))
    if reason:
        details["rank_reason"] = reason
    return grown, GrowthReport(
        strategy="lora",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details=details,
    )
