"""What every growth strategy receives and reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, Field


@dataclass
class TrainingNeeds:
    """What a strategy asks of the training loop, beyond training its trainable parameters."""

    # Called after each optimizer step, before gradients are cleared, with the 1-based step
    # number (e.g. AdaLoRA's rank reallocation reads the gradients).
    step_hooks: list[Callable[[int], None]] = field(default_factory=list)
    # Parameter-name substring → learning-rate multiplier (e.g. LoRA+ trains `lora_B` faster).
    lr_multipliers: dict[str, float] = field(default_factory=dict)
    # Extra loss terms (e.g. AdaLoRA's orthogonality penalty), added once per optimizer step.
    loss_terms: list[Callable[[], Any]] = field(default_factory=list)
    # Called after training; each returns facts for the manifest (e.g. final AdaLoRA ranks).
    final_reports: list[Callable[[], dict[str, Any]]] = field(default_factory=list)
    # Rows must hold one example each (no packing), e.g. prefix tuning: every token attends to
    # the prefix, which a packed row's block-diagonal mask cannot express. The pipeline then
    # prepares the data again with `data.packing` off.
    unpacked_rows: bool = False


@dataclass(frozen=True)
class GrowthContext:
    """Facts a strategy may need beyond the model: planned training size, hardware.

    `needs` is shared by every strategy of a run; strategies add to it, the loop honours it.
    """

    train_tokens: int
    memory_gib: float
    has_cuda: bool
    total_steps: int = 0
    needs: TrainingNeeds = field(default_factory=TrainingNeeds)
    # The run's tokenizer, for strategies that change the vocabulary (they add tokens to it).
    tokenizer: Any = None


class GrowthError(ValueError):
    """An option that cannot apply to this model (found only once the model is known).

    `path` names the option as `growth.options.<field>`: a strategy does not know its index in
    the recipe, so whoever runs step i rewrites the prefix with `path_for(i)`.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def path_for(self, index: int) -> str:
        return self.path.replace("growth.", f"growth[{index}].", 1)


class GrowthReport(BaseModel):
    strategy: str
    parameters_before: int
    parameters_after: int
    trainable: int
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def effective_growth(self) -> float:
        return self.parameters_after / max(self.parameters_before, 1)


class GrowthStrategy(Protocol):
    def __call__(
        self, model: Any, options: Any, context: GrowthContext
    ) -> tuple[Any, GrowthReport]:
        """Return the grown model (possibly a wrapper) and a report of what changed."""
        ...
