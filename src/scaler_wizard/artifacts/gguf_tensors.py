"""The weights of a merged model folder as GGUF tensors: names, layout and element type.

Tensors are read one at a time from the safetensors files (never the whole model in memory).
Names come from gguf's own tensor-name map. llama.cpp's Llama graph rotates adjacent pairs
(GPT-J style) where transformers rotates halves, so Q and K rows are permuted as its converter
does; Qwen2 uses the NeoX layout in llama.cpp and is written as is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scaler_wizard.artifacts.gguf_rope import GgufExportError

if TYPE_CHECKING:
    import numpy as np
    import torch

GgufDtype = Literal["f32", "f16", "bf16"]
BYTES_PER_ELEMENT = {"f32": 4, "f16": 2, "bf16": 2}
# gguf.LlamaFileType for each output dtype (`general.file_type`).
FILE_TYPES = {"f32": 0, "f16": 1, "bf16": 32}
SKIPPED_SUFFIXES = ("rotary_emb.inv_freq",)  # recomputed by every runtime


@dataclass(frozen=True)
class ArchSpec:
    """How llama.cpp runs a transformers `model_type`."""

    gguf_arch: str  # gguf.MODEL_ARCH name and `general.architecture`
    permute_qk: bool


ARCHITECTURES = {
    "llama": ArchSpec("llama", permute_qk=True),
    "mistral": ArchSpec("llama", permute_qk=True),  # llama.cpp runs Mistral as Llama
    "qwen2": ArchSpec("qwen2", permute_qk=False),
}


@dataclass(frozen=True)
class TensorEntry:
    hf_name: str
    gguf_name: str
    shape: tuple[int, ...]
    file: Path
    stored_as: GgufDtype  # 1-D tensors (norms, biases) stay f32, as llama.cpp writes them

    @property
    def nbytes(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count * BYTES_PER_ELEMENT[self.stored_as]


def arch_spec(config: Any) -> ArchSpec:
    model_type = getattr(config, "model_type", "")
    if model_type not in ARCHITECTURES:
        supported = ", ".join(sorted(ARCHITECTURES))
        raise GgufExportError(
            f"GGUF export supports model types {supported}, not {model_type!r}; "
            "llama.cpp's convert_hf_to_gguf.py may handle the merged model folder"
        )
    return ARCHITECTURES[model_type]


def plan_tensors(folder: Path, config: Any, dtype: GgufDtype) -> list[TensorEntry]:
    """Every tensor to write, in file order, checked against llama.cpp's names."""
    import gguf
    from safetensors import safe_open

    spec = arch_spec(config)
    names = gguf.get_tensor_name_map(
        gguf.MODEL_ARCH[spec.gguf_arch.upper()], config.num_hidden_layers
    )
    tied = bool(getattr(config, "tie_word_embeddings", False))
    entries = []
    for file, hf_names in _weight_files(folder).items():
        with safe_open(str(file), framework="pt") as handle:
            for hf_name in hf_names:
                if hf_name.endswith(SKIPPED_SUFFIXES) or (tied and hf_name == "lm_head.weight"):
                    continue  # tied: llama.cpp reuses token_embd when output.weight is absent
                gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
                if gguf_name is None:
                    raise GgufExportError(
                        f"tensor {hf_name!r} has no llama.cpp name for {spec.gguf_arch!r}: "
                        "the merged model holds weights this architecture does not have"
                    )
                shape = tuple(handle.get_slice(hf_name).get_shape())
                stored: GgufDtype = dtype if len(shape) > 1 else "f32"
                entries.append(TensorEntry(hf_name, gguf_name, shape, file, stored))
    if not tied and not any(e.gguf_name == "output.weight" for e in entries):
        raise GgufExportError("the model has untied embeddings but no lm_head.weight")
    return entries


def iter_tensor_data(
    entries: list[TensorEntry], config: Any
) -> Iterator[tuple[TensorEntry, np.ndarray[Any, Any]]]:
    """Each entry's data, laid out and typed for GGUF, loading one tensor at a time."""
    from safetensors import safe_open

    spec = arch_spec(config)
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    by_file: dict[Path, list[TensorEntry]] = {}
    for entry in entries:
        by_file.setdefault(entry.file, []).append(entry)
    for file, group in by_file.items():
        with safe_open(str(file), framework="pt") as handle:
            for entry in group:
                tensor = handle.get_tensor(entry.hf_name)
                if spec.permute_qk and ".attn_q." in entry.gguf_name:
                    tensor = permute_rotary(tensor, heads)
                elif spec.permute_qk and ".attn_k." in entry.gguf_name:
                    tensor = permute_rotary(tensor, kv_heads)
                yield entry, to_numpy(tensor, entry.stored_as)


def permute_rotary(tensor: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of each head from halves order (transformers) to interleaved pairs (llama.cpp)."""
    rows = tensor.shape[0]
    return (
        tensor.reshape(heads, 2, rows // heads // 2, *tensor.shape[1:])
        .swapaxes(1, 2)
        .reshape(tensor.shape)
    )


def to_numpy(tensor: torch.Tensor, dtype: GgufDtype) -> np.ndarray[Any, Any]:
    """numpy has no bfloat16: bf16 is handed over as its raw 16-bit patterns."""
    import torch

    if dtype == "bf16":
        return tensor.to(torch.bfloat16).contiguous().view(torch.int16).numpy()
    target = torch.float32 if dtype == "f32" else torch.float16
    return tensor.to(target).contiguous().numpy()


def _weight_files(folder: Path) -> dict[Path, list[str]]:
    """safetensors file → tensor names, for a single file or a sharded index."""
    from safetensors import safe_open

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        files: dict[Path, list[str]] = {}
        for name, file in sorted(weight_map.items()):
            files.setdefault(folder / file, []).append(name)
        return files
    single = folder / "model.safetensors"
    if not single.is_file():
        raise GgufExportError(f"{folder} holds no model.safetensors: export the merged model first")
    with safe_open(str(single), framework="pt") as handle:
        return {single: sorted(handle.keys())}
