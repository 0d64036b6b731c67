"""The breaker's state as plain JSON data, so a checkpoint can carry it across a resume."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from scaler_wizard.safety.breaker import BreakerState

_ADAPTER = TypeAdapter(BreakerState)


def dump_state(state: BreakerState) -> dict[str, Any]:
    """JSON-safe mapping (non-finite numbers become "NaN"/"Infinity" strings)."""
    data: dict[str, Any] = json.loads(_ADAPTER.dump_json(state))
    return data


def load_state(data: dict[str, Any]) -> BreakerState:
    return _ADAPTER.validate_python(data)
