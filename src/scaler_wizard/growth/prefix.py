"""Prefix tuning through PEFT: learned key/value vectors prepended to every attention layer.

The base weights stay frozen and untouched; only the prompt encoder trains. Every real token
attends to the prefix, so a row must hold a single example (a packed row's block-diagonal mask
cannot also show each document the prefix): the strategy asks the pipeline for unpacked rows.
PEFT places real tokens after the prefix: their positions start at `num_virtual_tokens`.
A prefix is not a weight change, so it cannot be merged: the artifact is the adapter.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scaler_wizard.growth.base import GrowthContext, GrowthError, GrowthReport

NOT_MERGEABLE = (
    "prefix tuning learns key/value vectors, not a change to any weight, so no merge can "
    "express it; load the adapter onto the base model with PeftModel.from_pretrained"
)


class PrefixOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    num_virtual_tokens: int = Field(
        20, ge=1, description="Prefix length: learned key/value positions per layer."
    )
    projection: bool = Field(
        False,
        description="Reparameterise the prefix through a two-layer MLP while training "
        "(prefix_projection; steadier optimisation, more trainable parameters). The saved "
        "adapter holds the computed prefix either way.",
    )
    encoder_hidden_size: int | None = Field(
        None, ge=1, description="Hidden size of the projection MLP; default: the prefix width."
    )

    @model_validator(mode="after")
    def _size_needs_projection(self) -> PrefixOptions:
        if self.encoder_hidden_size is not None and not self.projection:
            raise ValueError("encoder_hidden_size sizes the projection MLP: set projection: true")
        return self


def apply_prefix(
    model: Any, options: PrefixOptions, context: GrowthContext
) -> tuple[Any, GrowthReport]:
    from peft import PrefixTuningConfig, get_peft_model

    from scaler_wizard.models.loader import count_parameters

    if hasattr(model, "peft_config"):
        raise GrowthError(
            "growth.strategy",
            "the model already carries an adapter from an earlier growth step; PEFT holds one "
            "adapter type per model, so list `prefix` alone or merge the other adapter first",
        )
    before, _ = count_parameters(model)
    config = PrefixTuningConfig(
        task_type="CAUSAL_LM",
        num_virtual_tokens=options.num_virtual_tokens,
        prefix_projection=options.projection,
        # None lets PEFT size the MLP like the prefix (PEFT types the field as a plain int).
        encoder_hidden_size=options.encoder_hidden_size,  # type: ignore[arg-type]
    )
    grown = get_peft_model(model, config)
    context.needs.unpacked_rows = True
    resolved: Any = grown.peft_config["default"]  # a PrefixTuningConfig, with shapes filled in
    after, trainable = count_parameters(grown)
    details: dict[str, Any] = {
        "num_virtual_tokens": options.num_virtual_tokens,
        "projection": options.projection,
        "prefix_width": resolved.token_dim,  # key/value heads x head dim, per layer
        "layers": resolved.num_layers,
        "unpacked_rows": True,
        "mergeable": False,
    }
    if options.projection:
        details["encoder_hidden_size"] = resolved.encoder_hidden_size
    return grown, GrowthReport(
        strategy="prefix",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details=details,
    )
