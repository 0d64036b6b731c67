"""The context plan (what will be written and why) and the one error the planner raises."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scaler_wizard.recipe.spec import ContextSpec


class ContextPlanError(ValueError):
    """A context request that cannot be honoured; `str()` says what to change.

    `path` names the recipe field at fault (e.g. `context.options.beta_fast`).
    """

    def __init__(self, message: str, path: str = "context") -> None:
        self.path = path
        super().__init__(message)


class ContextPlan(BaseModel):
    """The resolved context extension: JSON-serialisable, applied to a config before loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = Field(description="Engine that was chosen ('none' when nothing changes).")
    factor: float = Field(description="Scale the engine applies (1.0 for none; dynamic: its f).")
    scale: float = Field(description="target_length / native_length.")
    native_length: int = Field(description="Pre-training context (original_max_... if scaled).")
    target_length: int = Field(description="Context the grown model is meant to handle.")
    positional: Literal["rope", "alibi", "absolute"] = "rope"
    will_train: bool = False
    inference_only: bool = Field(False, description="Frequencies depend on input length.")
    rope_before: dict[str, Any] | None = None
    rope_after: dict[str, Any] | None = None
    max_position_embeddings_before: int | None = None
    max_position_embeddings_after: int | None = None
    config_updates: dict[str, int | None] = Field(
        default_factory=dict,
        description="Other config attributes to set (sliding_window, MPT's max_seq_len).",
    )
    reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def changes_config(self) -> bool:
        """False when applying the plan would leave the config exactly as it is."""
        return (
            self.rope_after != self.rope_before
            or self.max_position_embeddings_after != self.max_position_embeddings_before
            or bool(self.config_updates)
        )


def resolve_target(spec: ContextSpec, native_length: int) -> int | None:
    """The requested length in tokens (`scale` is relative to the native length), or None."""
    if spec.target_length is not None:
        target, field = spec.target_length, f"context.target_length {spec.target_length}"
        path = "context.target_length"
    elif spec.scale is not None:
        target = round(native_length * spec.scale)
        field, path = f"context.scale {spec.scale:g} ({target} tokens)", "context.scale"
    else:
        return None
    if target < native_length:
        hint = f"≥ {native_length}" if path == "context.target_length" else "a scale ≥ 1"
        raise ContextPlanError(
            f"{field} is below the model's native context {native_length}; "
            f"remove it or choose {hint}",
            path,
        )
    return target
