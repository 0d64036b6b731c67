"""Shared fixtures: a tiny random-weight Llama and a tiny byte-level BPE tokenizer, in code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tiny_models import build_tiny_model, build_tiny_tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer() -> Any:
    return build_tiny_tokenizer()


@pytest.fixture()
def tiny_model(tiny_tokenizer: Any) -> Any:
    return build_tiny_model(tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Any) -> Path:
    """A saved tiny model + tokenizer folder, loadable like any local model."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    build_tiny_model(tiny_tokenizer).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SCALER_WIZARD_HOME so nothing leaks between tests."""
    home = tmp_path / "sw-home"
    monkeypatch.setenv("SCALER_WIZARD_HOME", str(home))
    return home
