"""What a `model.source` refers to, answered from files alone (no weights, no torch): the
embedded model, a local folder or GGUF file, or a hub id and whether it is cached."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from scaler_wizard.models.gguf_convert import (
    EMBEDDED_NAME,
    ModelSourceError,
    locate_embedded_gguf,
)
from scaler_wizard.server.schemas import ModelInfo
from scaler_wizard.server.settings import Settings

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
CONFIG_FACTS = {
    "architecture": "architectures",
    "layers": "num_hidden_layers",
    "hidden_size": "hidden_size",
    "vocab_size": "vocab_size",
    "native_length": "max_position_embeddings",
    "model_type": "model_type",
}


def describe_source(source: str) -> ModelInfo:
    if source == "embedded":
        return _embedded()
    path = Path(source).expanduser()
    if source.endswith(".gguf"):
        found = path.is_file()
        note = "converted to safetensors on first use" if found else "GGUF file not found"
        return ModelInfo(source=source, kind="gguf", available=found, path=str(path), message=note)
    if path.is_dir():
        return _folder(source, path)
    if HUB_ID.fullmatch(source) and not source.startswith((".", "/", "~")):
        cached = _hub_cache() / f"models--{source.replace('/', '--')}"
        note = "in the local hub cache" if cached.is_dir() else "downloaded from the hub on use"
        return ModelInfo(source=source, kind="hub", available=cached.is_dir(), message=note)
    return ModelInfo(
        source=source,
        kind="unknown",
        available=False,
        message="neither 'embedded', an existing folder, a .gguf file, nor a hub id (owner/name)",
    )


def list_models(settings: Settings) -> list[ModelInfo]:
    """The embedded model, then every model already converted into the workspace cache."""
    models = [_embedded()]
    cache = settings.workspace / "models"
    if cache.is_dir():
        models += [_folder(str(p), p) for p in sorted(cache.iterdir()) if p.is_dir()]
    return models


def _embedded() -> ModelInfo:
    try:
        gguf = locate_embedded_gguf()  # found without importing the wheel or converting it
    except ModelSourceError as exc:
        return ModelInfo(source="embedded", kind="embedded", available=False, message=str(exc))
    return ModelInfo(
        source="embedded", kind="embedded", available=True, path=str(gguf), message=EMBEDDED_NAME
    )


def _folder(source: str, path: Path) -> ModelInfo:
    try:
        config: dict[str, Any] = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return ModelInfo(
            source=source,
            kind="folder",
            available=False,
            path=str(path),
            message="no readable config.json: not a model folder",
        )
    facts = {name: config[key] for name, key in CONFIG_FACTS.items() if key in config}
    if isinstance(facts.get("architecture"), list) and facts["architecture"]:
        facts["architecture"] = facts["architecture"][0]
    weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    return ModelInfo(
        source=source,
        kind="folder",
        available=weights,
        path=str(path.resolve()),
        message="" if weights else "config.json found but no weights (*.safetensors, *.bin)",
        config=facts,
    )


def _hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface"
    return Path(home) / "hub"
