"""Write a merged model folder (safetensors + config + tokenizer) as one GGUF for llama.cpp/Ollama.

Supported: Llama (SmolLM2, Llama 3.x), Mistral and Qwen2 with a byte-level BPE tokenizer. The
file holds the architecture, the RoPE settings llama.cpp reads (`gguf_rope`), the tokenizer
(`gguf_vocab`) and every tensor (`gguf_tensors`), written in f32, f16 or bf16 one tensor at a
time. Next to it: an Ollama `Modelfile` and a README with the commands and any caveat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaler_wizard.artifacts.gguf_rope import (
    SELF_EXTEND_GROUP_ATTR,
    SELF_EXTEND_WINDOW_ATTR,
    GgufExportError,
    GgufRope,
    plan_gguf_rope,
)
from scaler_wizard.artifacts.gguf_tensors import (
    FILE_TYPES,
    GgufDtype,
    TensorEntry,
    arch_spec,
    iter_tensor_data,
    plan_tensors,
)
from scaler_wizard.artifacts.gguf_vocab import GgufVocab, read_vocab
from scaler_wizard.artifacts.ollama_modelfile import chat_format, render_modelfile
from scaler_wizard.models.hf_compat import native_context, read_rope, rotary_dim

if TYPE_CHECKING:
    from gguf import GGUFWriter

__all__ = ["GgufExport", "GgufExportError", "export_gguf"]

GGUF_NAME = "model.gguf"
ProgressFn = Callable[[int, int], None]  # (tensors written, total)


@dataclass(frozen=True)
class GgufExport:
    path: Path
    dtype: GgufDtype
    architecture: str
    tensors: int
    size_bytes: int
    rope: GgufRope
    tokenizer_pre: str | None
    caveats: tuple[str, ...]
    modelfile: Path | None

    def record(self, folder: Path | None = None) -> dict[str, Any]:
        """What the manifest keeps; paths inside `folder` when the files were moved there."""
        base = folder or self.path.parent
        return {
            "path": str(base / self.path.name),
            "dtype": self.dtype,
            "architecture": self.architecture,
            "tensors": self.tensors,
            "size_bytes": self.size_bytes,
            "rope": self.rope.summary(),
            "tokenizer_pre": self.tokenizer_pre,
            "caveats": list(self.caveats),
            "modelfile": str(base / self.modelfile.name) if self.modelfile else None,
        }


def export_gguf(
    model_dir: Path,
    out_dir: Path,
    *,
    dtype: GgufDtype = "f16",
    modelfile: bool = True,
    name: str | None = None,
    native_length: int | None = None,
    progress: ProgressFn | None = None,
) -> GgufExport:
    """Write `out_dir/model.gguf` (+ Modelfile, README.md); refuses what it cannot map exactly.

    `native_length` is the pre-training context when the config no longer tells it (Self-Extend
    raises max_position_embeddings and leaves RoPE unscaled); the run's manifest knows it.
    """
    from gguf import GGUFWriter
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    spec = arch_spec(config)
    caveats = check_config(config)
    rope = plan_gguf_rope(
        read_rope(config) or {},
        rotary_dim=rotary_dim(config),
        max_positions=int(config.max_position_embeddings),
        native_context=native_length or native_context(config),
        arch=spec.gguf_arch,
        self_extend=self_extend_settings(config),
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    vocab = read_vocab(model_dir, int(config.vocab_size), tokenizer)
    entries = plan_tensors(model_dir, config, dtype)
    caveats = (*caveats, *rope.caveats, *vocab.caveats)

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / GGUF_NAME
    writer = GGUFWriter(path, spec.gguf_arch)
    try:
        write_metadata(writer, config, rope, vocab, dtype, name or model_dir.name)
        _write_tensors(writer, entries, config, rope, progress)
    finally:
        writer.close()
    written_modelfile = None
    if modelfile:
        chat = chat_format(tokenizer)
        notes = (*caveats, *_run_notes(rope))
        written_modelfile = out_dir / "Modelfile"
        written_modelfile.write_text(
            render_modelfile(GGUF_NAME, num_ctx=rope.serve_context, chat=chat, notes=notes),
            encoding="utf-8",
        )
    result = GgufExport(
        path=path,
        dtype=dtype,
        architecture=spec.gguf_arch,
        tensors=len(entries) + (1 if rope.rope_freqs else 0),
        size_bytes=path.stat().st_size,
        rope=rope,
        tokenizer_pre=vocab.pre,
        caveats=caveats,
        modelfile=written_modelfile,
    )
    (out_dir / "README.md").write_text(render_readme(result), encoding="utf-8")
    return result


def check_config(config: Any) -> tuple[str, ...]:
    """Refuse what llama.cpp would compute differently; return softer differences as caveats."""
    if getattr(config, "hidden_act", "silu") != "silu":
        raise GgufExportError(f"activation {config.hidden_act!r}: llama.cpp expects silu")
    if getattr(config, "mlp_bias", False):
        raise GgufExportError("MLP biases (mlp_bias=true) are not read by llama.cpp's Llama graph")
    if rotary_dim(config) != _head_dim(config):
        raise GgufExportError("partial rotary embeddings are not supported by this GGUF export")
    window = getattr(config, "sliding_window", None)
    uses_window = getattr(config, "use_sliding_window", window is not None)
    if window and uses_window and window < config.max_position_embeddings:
        return (
            f"sliding-window attention ({window} tokens) is not applied by llama.cpp for this "
            "architecture: it attends to the whole context",
        )
    return ()


def self_extend_settings(config: Any) -> tuple[int, int] | None:
    group = getattr(config, SELF_EXTEND_GROUP_ATTR, None)
    window = getattr(config, SELF_EXTEND_WINDOW_ATTR, None)
    return None if group is None or window is None else (int(group), int(window))


def write_metadata(
    writer: GGUFWriter,
    config: Any,
    rope: GgufRope,
    vocab: GgufVocab,
    dtype: GgufDtype,
    name: str,
) -> None:
    """Architecture, RoPE and tokenizer keys, under the names llama.cpp's loader reads."""
    from gguf import GGML_QUANT_VERSION, RopeScalingType

    writer.add_type("model")
    writer.add_name(name)
    writer.add_file_type(FILE_TYPES[dtype])
    writer.add_quantization_version(GGML_QUANT_VERSION)
    writer.add_vocab_size(int(config.vocab_size))
    writer.add_context_length(rope.context_length)
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(int(config.num_key_value_heads))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    head_dim = _head_dim(config)
    if head_dim != config.hidden_size // config.num_attention_heads:
        writer.add_key_length(head_dim)  # llama.cpp's default is hidden / heads
        writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(rope.dimension_count)
    writer.add_rope_freq_base(rope.freq_base)
    if rope.scaling_type is not None and rope.factor is not None:
        writer.add_rope_scaling_type(RopeScalingType(rope.scaling_type))
        writer.add_rope_scaling_factor(rope.factor)
    if rope.original_context is not None:
        writer.add_rope_scaling_orig_ctx_len(rope.original_context)
    for value, add in (
        (rope.yarn_beta_fast, writer.add_rope_scaling_yarn_beta_fast),
        (rope.yarn_beta_slow, writer.add_rope_scaling_yarn_beta_slow),
        (rope.yarn_attn_factor, writer.add_rope_scaling_yarn_attn_factor),
    ):
        if value is not None:
            add(value)
    _write_vocab(writer, vocab)


def render_readme(export: GgufExport) -> str:
    """How to run the file, what its RoPE metadata says, and what to watch."""
    rope = export.rope
    flags = " ".join(rope.llama_cpp_flags)
    lines = [
        "# GGUF export",
        "",
        f"`{export.path.name}`: {export.architecture}, {export.dtype}, {export.tensors} tensors, "
        f"context {rope.context_length:,} tokens.",
        "",
        "## Run",
        "",
        "```bash",
        f"llama-cli -m {export.path.name} -c {rope.context_length} {flags}".rstrip(),
        f"llama-server -m {export.path.name} -c {rope.serve_context}",
    ]
    if export.modelfile:
        lines += ["ollama create grown-model -f Modelfile", "ollama run grown-model"]
    lines += ["```", "", "## RoPE", ""]
    lines += [f"- **{key}:** {value}" for key, value in rope.summary().items()]
    if export.caveats:
        lines += ["", "## Caveats", ""] + [f"- {caveat}" for caveat in export.caveats]
    return "\n".join(lines) + "\n"


def _write_vocab(writer: GGUFWriter, vocab: GgufVocab) -> None:
    writer.add_tokenizer_model("gpt2")
    if vocab.pre is not None:
        writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    for kind, token_id in vocab.special_ids.items():
        getattr(writer, f"add_{kind}_token_id")(token_id)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(vocab.add_eos)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)


def _write_tensors(
    writer: GGUFWriter,
    entries: list[TensorEntry],
    config: Any,
    rope: GgufRope,
    progress: ProgressFn | None,
) -> None:
    """Header, metadata and tensor table first, then each tensor's data as it is loaded."""
    import numpy as np
    from gguf import GGMLQuantizationType

    raw_types = {"f32": None, "f16": None, "bf16": GGMLQuantizationType.BF16}
    freqs = None if rope.rope_freqs is None else np.asarray(rope.rope_freqs, dtype=np.float32)
    if freqs is not None:
        writer.add_tensor_info("rope_freqs.weight", freqs.shape, freqs.dtype, freqs.nbytes)
    for entry in entries:
        np_dtype = np.dtype(np.float32 if entry.stored_as == "f32" else np.float16)
        writer.add_tensor_info(
            entry.gguf_name, entry.shape, np_dtype, entry.nbytes, raw_types[entry.stored_as]
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    if freqs is not None:
        writer.write_tensor_data(freqs)
    for done, (_entry, data) in enumerate(iter_tensor_data(entries, config), start=1):
        writer.write_tensor_data(data)
        if progress is not None:
            progress(done, len(entries))


def _run_notes(rope: GgufRope) -> tuple[str, ...]:
    if not rope.llama_cpp_flags:
        return ()
    return (f"with llama.cpp use: llama-cli -m model.gguf {' '.join(rope.llama_cpp_flags)}",)


def _head_dim(config: Any) -> int:
    return int(
        getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    )
