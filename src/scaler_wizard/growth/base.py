"""What every growth strategy receives and reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class GrowthContext:
    """Facts a strategy may need beyond the model: planned training size, hardware."""

    train_tokens: int
    memory_gib: float
    has_cuda: bool


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
