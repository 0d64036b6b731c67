"""LoRA through PEFT, with DoRA and rsLoRA as flags (as PEFT itself models them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scaler_wizard.growth.base import GrowthContext, GrowthReport
from scaler_wizard.growth.rank import resolve_rank


class LoraOptions(BaseModel):
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

    def resolved(self, context: GrowthContext) -> tuple[LoraOptions, str | None]:
        """Options with `r`/`alpha` filled in, and the reason when they were chosen for the user."""
        if self.r != "auto":
            return self.model_copy(update={"alpha": self.alpha or 2 * self.r}), None
        choice = resolve_rank(context.train_tokens, context.has_cuda)
        return self.model_copy(
            update={"r": choice.rank, "alpha": self.alpha or choice.alpha}
        ), choice.reason


def apply_lora(
    model: Any, options: LoraOptions, context: GrowthContext
) -> tuple[Any, GrowthReport]:
    from peft import LoraConfig, get_peft_model

    from scaler_wizard.models.loader import count_parameters

    options, reason = options.resolved(context)
    assert isinstance(options.r, int)
    before, _ = count_parameters(model)
    config = LoraConfig(
        r=options.r,
        lora_alpha=options.alpha or 2 * options.r,
        lora_dropout=options.dropout,
        target_modules=options.target_modules,
        use_dora=options.use_dora,
        use_rslora=options.use_rslora,
        task_type="CAUSAL_LM",
    )
    grown = get_peft_model(model, config)
    after, trainable = count_parameters(grown)
    details: dict[str, Any] = {"r": options.r, "alpha": config.lora_alpha}
    details["target_modules"] = sorted(getattr(grown.peft_config["default"], "target_modules", []))
    if reason:
        details["rank_reason"] = reason
    return grown, GrowthReport(
        strategy="lora",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details=details,
    )
