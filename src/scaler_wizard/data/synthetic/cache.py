"""Generated data kept on disk by a key of everything that shaped it, so an unchanged recipe
(a resumed run, the next context stage) reuses it instead of generating again."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from scaler_wizard.paths import workspace_home


def cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def cache_path(kind: str, key: str) -> Path:
    return workspace_home() / "cache" / "synthetic" / f"{kind}-{key[:32]}.json"


def read_cached(kind: str, key: str) -> dict[str, Any] | None:
    path = cache_path(kind, key)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # absent or half-written: generate again
    return value if isinstance(value, dict) and value.get("key") == key else None


def write_cached(kind: str, key: str, value: dict[str, Any]) -> Path:
    path = cache_path(kind, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({**value, "key": key}, indent=1), encoding="utf-8")
    partial.replace(path)  # atomic: a reader never sees half a file
    return path
