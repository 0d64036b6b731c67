"""The base of every recipe section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """Base of every recipe section: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")
