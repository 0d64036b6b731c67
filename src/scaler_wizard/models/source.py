"""Resolve `model.source` (embedded, GGUF, folder or hub id) to a local safetensors folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scaler_wizard.models.gguf_convert import (
    EMBEDDED_NAME,
    ModelSourceError,
    convert_gguf,
    locate_embedded_gguf,
)
from scaler_wizard.recipe.spec import ModelSpec

SourceKind = Literal["embedded", "gguf", "folder", "hub"]


@dataclass(frozen=True)
class ResolvedSource:
    path: Path
    name: str
    kind: SourceKind


def resolve_model_source(spec: ModelSpec) -> ResolvedSource:
    source = spec.source
    if source == "embedded":
        return ResolvedSource(convert_gguf(locate_embedded_gguf()), EMBEDDED_NAME, "embedded")
    path = Path(source).expanduser()
    if source.endswith(".gguf"):
        if not path.is_file():
            raise ModelSourceError(f"model.source: GGUF file not found: {path}")
        return ResolvedSource(convert_gguf(path), path.stem, "gguf")
    if path.is_dir():
        if spec.gguf_file:
            return ResolvedSource(convert_gguf(path / spec.gguf_file), path.name, "gguf")
        if not (path / "config.json").is_file():
            raise ModelSourceError(
                f"model.source: {path} has no config.json; is it a model folder?"
            )
        return ResolvedSource(path, path.name, "folder")
    if source.startswith((".", "/", "~")) or source.count("/") != 1:
        raise ModelSourceError(
            f"model.source: {source!r} is neither 'embedded', an existing folder, a .gguf file, "
            "nor a hub id like 'HuggingFaceTB/SmolLM2-135M-Instruct'"
        )
    return ResolvedSource(_download(spec), source, "hub")


def _download(spec: ModelSpec) -> Path:
    from huggingface_hub import hf_hub_download, snapshot_download

    try:
        if spec.gguf_file:
            file = hf_hub_download(spec.source, spec.gguf_file, revision=spec.revision)
            return convert_gguf(Path(file))
        patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
        return Path(snapshot_download(spec.source, revision=spec.revision, allow_patterns=patterns))
    except Exception as exc:
        raise ModelSourceError(
            f"model.source: cannot fetch {spec.source!r} from the hub and it is not in the local "
            f"cache ({type(exc).__name__}). Download it on a connected machine and pass its "
            "folder, or use model.source=embedded."
        ) from None
