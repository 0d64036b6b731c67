"""Fixtures for data tests: write small data files into tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

WriteJsonl = Callable[..., Path]


@pytest.fixture()
def write_jsonl(tmp_path: Path) -> WriteJsonl:
    """Write records (dicts, or raw strings for broken lines) as JSONL; returns the path."""

    def write(records: Sequence[Any], name: str = "data.jsonl") -> Path:
        path = tmp_path / name
        lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write
