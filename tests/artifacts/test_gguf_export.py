"""GGUF export: a merged folder written as GGUF loads back with the same logits and tokens.

transformers' GGUF loader undoes llama.cpp's Q/K permutation and rebuilds the tokenizer from the
file, so a round trip through it checks the tensor layout and the vocabulary. It keeps only
`rope.freq_base` for Llama-family files, so scaled-RoPE round trips rebuild the config with
`rope_from_gguf`, and a control shows the scaling matters at the positions compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaler_wizard.artifacts.gguf_export import export_gguf
from scaler_wizard.artifacts.gguf_rope import GgufExportError, llama3_rope_freqs, rope_from_gguf
from scaler_wizard.models.hf_compat import read_rope, write_rope
from tiny_models import CORPUS, build_tiny_model

NATIVE = 256
PROMPT = " ".join(CORPUS)
TOKEN_TEXTS = [
    "<|im_start|>user\nWhat does `json.dumps` do?<|im_end|>\n<|im_start|>assistant\n",
    "The pass key is 12345. Héllo wörld, naïve café!\n\n  spaced   out\ttabs",
]


def save_model(
    folder: Path,
    tokenizer: Any,
    rope: dict[str, Any] | None = None,
    *,
    tied: bool = True,
    sharpen: float = 1.0,
    **config_changes: Any,
) -> Any:
    """A tiny random Llama saved like a merged export; `sharpen` scales Q and K so attention
    (and so RoPE) visibly changes the logits."""
    import torch
    from transformers import AutoModelForCausalLM

    config = build_tiny_model(tokenizer).config
    config.tie_word_embeddings = tied
    if rope is not None:
        write_rope(config, {**read_rope(config), **rope}, replace=True)
        config.max_position_embeddings = 4 * NATIVE
    for key, value in config_changes.items():
        setattr(config, key, value)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(sharpen)
            layer.self_attn.k_proj.weight.mul_(sharpen)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


def load_back(folder: Path, config: Any = None) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        folder, gguf_file="model.gguf", config=config, dtype=torch.float32
    ).eval()


def metadata(path: Path) -> dict[str, Any]:
    from gguf import GGUFReader

    reader = GGUFReader(path)
    return {
        k: f.contents() for k, f in reader.fields.items() if not k.startswith("tokenizer.ggml.")
    }


def logits(model: Any, ids: list[int]) -> Any:
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


def long_ids(tokenizer: Any, length: int = 2 * NATIVE) -> list[int]:
    ids: list[int] = tokenizer(PROMPT * 20)["input_ids"][:length]
    assert len(ids) == length
    return ids


# Measured: f32 0.0, f16 2.3e-4, bf16 1.7e-3 (largest logit difference on PROMPT).
@pytest.mark.parametrize(("dtype", "tolerance"), [("f32", 1e-5), ("f16", 1e-3), ("bf16", 1e-2)])
def test_round_trip_logits_match(
    tmp_path: Path, tiny_tokenizer: Any, dtype: str, tolerance: float
) -> None:
    model = save_model(tmp_path / "model", tiny_tokenizer)
    result = export_gguf(tmp_path / "model", tmp_path / "gguf", dtype=dtype)  # type: ignore[arg-type]
    ids = tiny_tokenizer(PROMPT)["input_ids"]
    diff = (logits(model, ids) - logits(load_back(tmp_path / "gguf"), ids)).abs().max()
    assert float(diff) <= tolerance
    meta = metadata(result.path)
    assert meta["general.file_type"] == {"f32": 0, "f16": 1, "bf16": 32}[dtype]
    assert meta["llama.context_length"] == NATIVE
    assert meta["llama.rope.dimension_count"] == 16
    assert meta["llama.attention.head_count_kv"] == 2


def test_half_precision_halves_the_file(tmp_path: Path, tiny_tokenizer: Any) -> None:
    save_model(tmp_path / "model", tiny_tokenizer)
    f32 = export_gguf(tmp_path / "model", tmp_path / "f32", dtype="f32")
    f16 = export_gguf(tmp_path / "model", tmp_path / "f16", dtype="f16")
    assert 0.45 < f16.size_bytes / f32.size_bytes < 0.6  # norms stay f32, metadata is shared


def test_query_rows_are_interleaved_the_way_llama_cpp_rotates(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    import numpy as np
    from gguf import GGUFReader

    model = save_model(tmp_path / "model", tiny_tokenizer)
    result = export_gguf(tmp_path / "model", tmp_path / "gguf", dtype="f32")
    stored = {t.name: np.asarray(t.data) for t in GGUFReader(result.path).tensors}
    q = model.model.layers[0].self_attn.q_proj.weight.detach().numpy()
    heads, half = 4, 8  # per head: rows 0..7 rotate with rows 8..15 in transformers
    expected = q.reshape(heads, 2, half, -1).swapaxes(1, 2).reshape(q.shape)
    assert np.array_equal(stored["blk.0.attn_q.weight"], expected)
    assert not np.array_equal(stored["blk.0.attn_q.weight"], q)
    v = model.model.layers[0].self_attn.v_proj.weight.detach().numpy()
    assert np.array_equal(stored["blk.0.attn_v.weight"], v)


@pytest.mark.parametrize("tied", [True, False])
def test_output_matrix_only_when_untied(tmp_path: Path, tiny_tokenizer: Any, tied: bool) -> None:
    from gguf import GGUFReader

    model = save_model(tmp_path / "model", tiny_tokenizer, tied=tied)
    result = export_gguf(tmp_path / "model", tmp_path / "gguf", dtype="f32")
    names = {t.name for t in GGUFReader(result.path).tensors}
    assert ("output.weight" in names) is not tied
    back = load_back(tmp_path / "gguf")
    assert back.config.tie_word_embeddings is tied
    ids = tiny_tokenizer(PROMPT)["input_ids"]
    assert float((logits(model, ids) - logits(back, ids)).abs().max()) <= 1e-5


SCALED = [
    ({"rope_type": "linear", "factor": 4.0}, {"type": "linear", "factor": 4.0}),
    (
        {
            "rope_type": "yarn",
            "factor": 4.0,
            "original_max_position_embeddings": NATIVE,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
        },
        {"type": "yarn", "factor": 4.0, "original_context_length": NATIVE},
    ),
]


@pytest.mark.parametrize(("rope", "expected"), SCALED, ids=["linear", "yarn"])
def test_scaled_rope_is_carried_over(
    tmp_path: Path, tiny_tokenizer: Any, rope: dict[str, Any], expected: dict[str, Any]
) -> None:
    from transformers import AutoConfig

    model = save_model(tmp_path / "model", tiny_tokenizer, rope, sharpen=8.0)
    result = export_gguf(tmp_path / "model", tmp_path / "gguf", dtype="f32")
    meta = metadata(result.path)
    assert meta["llama.context_length"] == 4 * NATIVE
    for key, value in expected.items():
        assert meta[f"llama.rope.scaling.{key}"] == pytest.approx(value)

    plain = AutoConfig.from_pretrained(tmp_path / "gguf", gguf_file="model.gguf")
    assert plain.rope_parameters["rope_type"] == "default"  # transformers drops the scaling
    config = AutoConfig.from_pretrained(tmp_path / "gguf", gguf_file="model.gguf")
    write_rope(config, rope_from_gguf(meta, "llama"), replace=True)
    assert read_rope(config) == read_rope(model.config)

    ids = long_ids(tiny_tokenizer)
    original = logits(model, ids)
    beyond = slice(NATIVE, None)  # positions past the native window
    diff = (original - logits(load_back(tmp_path / "gguf", config), ids))[beyond]
    assert float(diff.abs().max()) <= 1e-4
    unscaled = (original - logits(load_back(tmp_path / "gguf", plain), ids))[beyond]
    assert float(unscaled.abs().max()) > 1e-2  # the comparison does see the RoPE scaling


def test_llama3_scaling_becomes_llama_cpps_rope_freqs(tmp_path: Path, tiny_tokenizer: Any) -> None:
    import numpy as np
    import torch
    from gguf import GGUFReader
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    rope = {
        "rope_type": "llama3",
        "factor": 8.0,
        "original_max_position_embeddings": NATIVE,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
    }
    model = save_model(tmp_path / "model", tiny_tokenizer, rope)
    result = export_gguf(tmp_path / "model", tmp_path / "gguf", dtype="f16")
    tensors = {t.name: t for t in GGUFReader(result.path).tensors}
    freqs = np.asarray(tensors["rope_freqs.weight"].data)
    assert freqs.dtype == np.float32 and freqs.shape == (8,)
    # llama.cpp divides each base frequency by rope_freqs[i]; transformers scales inv_freq.
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](model.config, torch.device("cpu"))
    base = 1.0 / 10000.0 ** (torch.arange(0, 16, 2, dtype=torch.float32) / 16)
    assert np.allclose(base.numpy() / freqs, scaled.numpy(), rtol=1e-6)
    assert freqs[0] == 1.0 and freqs[-1] == 8.0  # short wavelengths kept, long ones ÷ factor
    assert "llama.rope.scaling.type" not in metadata(result.path)


def test_tokenizer_round_trip(tmp_path: Path, tiny_tokenizer: Any) -> None:
    from transformers import AutoTokenizer

    save_model(tmp_path / "model", tiny_tokenizer)
    result = export_gguf(tmp_path / "model", tmp_path / "gguf", dtype="f32")
    back = AutoTokenizer.from_pretrained(tmp_path / "gguf", gguf_file="model.gguf")
    for text in TOKEN_TEXTS:
        assert back(text)["input_ids"] == tiny_tokenizer(text)["input_ids"], text
    assert back.decode(tiny_tokenizer(TOKEN_TEXTS[1])["input_ids"]) == TOKEN_TEXTS[1]
    from gguf import GGUFReader

    fields = GGUFReader(result.path).fields
    assert fields["tokenizer.ggml.model"].contents() == "gpt2"
    assert fields["tokenizer.ggml.pre"].contents() == "gpt-2"
    assert fields["tokenizer.ggml.bos_token_id"].contents() == tiny_tokenizer.bos_token_id
    assert fields["tokenizer.ggml.eos_token_id"].contents() == tiny_tokenizer.eos_token_id
    assert fields["tokenizer.ggml.add_bos_token"].contents() is False
    assert fields["tokenizer.chat_template"].contents() == tiny_tokenizer.chat_template
    assert fields["tokenizer.ggml.token_type"].contents()[:4] == [3, 3, 3, 1]  # specials: CONTROL


@pytest.mark.parametrize("model_type", ["qwen2", "mistral"])
def test_qwen2_and_mistral_round_trip(tmp_path: Path, tiny_tokenizer: Any, model_type: str) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    llama = build_tiny_model(tiny_tokenizer).config.to_dict()
    keep = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers")
    config = AutoConfig.for_model(
        model_type,
        **{k: llama[k] for k in keep},
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=NATIVE,
        tie_word_embeddings=model_type == "qwen2",
        sliding_window=None,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    if model_type == "qwen2":  # random q/k/v biases, so a misplaced bias shows
        with torch.no_grad():
            for layer in model.model.layers:
                layer.self_attn.k_proj.bias.normal_(0, 0.5)
    model.save_pretrained(tmp_path / "model")
    tiny_tokenizer.save_pretrained(tmp_path / "model")
    result = export_gguf(tmp_path / "model", tmp_path / "gguf", dtype="f32")
    assert result.architecture == ("qwen2" if model_type == "qwen2" else "llama")
    ids = tiny_tokenizer(PROMPT)["input_ids"]
    diff = logits(model, ids) - logits(load_back(tmp_path / "gguf"), ids)
    assert float(diff.abs().max()) <= 1e-5


def test_self_extend_needs_llama_cpp_flags(tmp_path: Path, tiny_tokenizer: Any) -> None:
    save_model(
        tmp_path / "model",
        tiny_tokenizer,
        max_position_embeddings=4 * NATIVE,
        self_extend_group_size=8,
        self_extend_window=64,
    )
    result = export_gguf(tmp_path / "model", tmp_path / "gguf", dtype="f16", native_length=NATIVE)
    assert result.rope.llama_cpp_flags == ("--grp-attn-n 8", "--grp-attn-w 64")
    assert metadata(result.path)["llama.context_length"] == 4 * NATIVE
    modelfile = (tmp_path / "gguf" / "Modelfile").read_text()
    assert f"PARAMETER num_ctx {NATIVE}\n" in modelfile  # Ollama cannot apply Self-Extend
    assert "--grp-attn-n 8 --grp-attn-w 64" in modelfile
    assert "--grp-attn-n 8 --grp-attn-w 64" in (tmp_path / "gguf" / "README.md").read_text()


def test_modelfile_for_a_chatml_model(tmp_path: Path, tiny_tokenizer: Any) -> None:
    save_model(tmp_path / "model", tiny_tokenizer, {"rope_type": "linear", "factor": 4.0})
    export_gguf(tmp_path / "model", tmp_path / "gguf")
    text = (tmp_path / "gguf" / "Modelfile").read_text()
    assert "FROM ./model.gguf\n" in text
    assert 'TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}\n' in text
    assert f"PARAMETER num_ctx {4 * NATIVE}\n" in text
    assert 'PARAMETER stop "<|im_end|>"\n' in text
    assert "SYSTEM" not in text  # this template inserts no default system prompt


def test_modelfile_keeps_a_default_system_prompt(tmp_path: Path, tiny_tokenizer: Any) -> None:
    from tiny_models import CHATML

    default = (
        "{% if messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nBe brief.<|im_end|>\n' }}{% endif %}"
    )
    tokenizer = type(tiny_tokenizer).from_pretrained(_saved(tmp_path / "tok", tiny_tokenizer))
    tokenizer.chat_template = default + CHATML
    save_model(tmp_path / "model", tokenizer)
    export_gguf(tmp_path / "model", tmp_path / "gguf")
    assert 'SYSTEM """Be brief."""' in (tmp_path / "gguf" / "Modelfile").read_text()


def test_modelfile_falls_back_for_other_templates(tmp_path: Path, tiny_tokenizer: Any) -> None:
    tokenizer = type(tiny_tokenizer).from_pretrained(_saved(tmp_path / "tok", tiny_tokenizer))
    tokenizer.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    )
    save_model(tmp_path / "model", tokenizer)
    export_gguf(tmp_path / "model", tmp_path / "gguf")
    text = (tmp_path / "gguf" / "Modelfile").read_text()
    assert "TEMPLATE" not in text.replace("# No TEMPLATE", "")
    assert 'PARAMETER stop "<|im_end|>"' in text  # the eos token still stops generation


@pytest.mark.parametrize(
    ("rope", "changes", "message"),
    [
        ({"rope_type": "dynamic", "factor": 2.0}, {}, "dynamic NTK"),
        (
            {
                "rope_type": "longrope",
                "factor": 2.0,
                "original_max_position_embeddings": NATIVE,
                "short_factor": [1.0] * 8,
                "long_factor": [2.0] * 8,
            },
            {},
            "no GGUF equivalent",
        ),
        (None, {"hidden_act": "gelu"}, "silu"),
        (
            {
                "rope_type": "yarn",
                "factor": 2.0,
                "original_max_position_embeddings": 256,
                "truncate": False,
            },
            {},
            "truncate",
        ),
    ],
    ids=["dynamic", "longrope", "activation", "yarn-truncate"],
)
def test_refuses_what_llama_cpp_would_compute_differently(
    tmp_path: Path,
    tiny_tokenizer: Any,
    rope: dict[str, Any] | None,
    changes: dict[str, Any],
    message: str,
) -> None:
    save_model(tmp_path / "model", tiny_tokenizer, rope, **changes)
    with pytest.raises(GgufExportError, match=message):
        export_gguf(tmp_path / "model", tmp_path / "gguf")
    assert not (tmp_path / "gguf" / "model.gguf").exists()


def test_refuses_unsupported_architecture_and_tokenizer(
    tmp_path: Path, tiny_tokenizer: Any
) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2)).save_pretrained(tmp_path / "gpt2")
    with pytest.raises(GgufExportError, match="not 'gpt2'"):
        export_gguf(tmp_path / "gpt2", tmp_path / "out")

    save_model(tmp_path / "model", tiny_tokenizer)
    tokenizer_file = tmp_path / "model" / "tokenizer.json"
    data = json.loads(tokenizer_file.read_text())
    data["model"]["byte_fallback"] = True  # the sentencepiece-style BPE of Llama 2 / Mistral
    tokenizer_file.write_text(json.dumps(data))
    with pytest.raises(GgufExportError, match="byte-level BPE"):
        export_gguf(tmp_path / "model", tmp_path / "out")


def test_llama3_refused_for_qwen2() -> None:
    from scaler_wizard.artifacts.gguf_rope import plan_gguf_rope

    rope = {"rope_type": "llama3", "rope_theta": 1e4, "factor": 2.0}
    with pytest.raises(GgufExportError, match="rope_freqs"):
        plan_gguf_rope(rope, rotary_dim=16, max_positions=512, native_context=256, arch="qwen2")


def test_llama3_divisors_match_the_piecewise_rule() -> None:
    rope = {
        "rope_theta": 500000.0,
        "factor": 8.0,
        "original_max_position_embeddings": 8192,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
    }
    freqs = llama3_rope_freqs(rope, 128)  # Llama 3.1 8B's geometry
    assert len(freqs) == 64
    # 2π·θ^(2i/d) < 8192/4 for the first 29 pairs (kept); > 8192 for the last 29 (÷ factor).
    assert freqs[:29] == (1.0,) * 29
    assert freqs[35:] == (8.0,) * 29
    assert all(1.0 < f < 8.0 for f in freqs[29:35])  # the smooth band between
    assert list(freqs) == sorted(freqs)


@pytest.mark.parametrize(
    ("pre", "name"),
    [
        ({"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}, "gpt-2"),
        (
            {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Digits", "individual_digits": True},
                    {"type": "ByteLevel", "use_regex": True},
                ],
            },
            "smollm",
        ),
        (
            {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": "QWEN2"}, "behavior": "Isolated"},
                    {"type": "ByteLevel", "use_regex": False},
                ],
            },
            "qwen2",
        ),
        ({"type": "Whitespace"}, None),
        (None, None),
    ],
    ids=["gpt2", "smollm", "qwen2", "unknown", "none"],
)
def test_pre_tokenizer_names(pre: dict[str, Any] | None, name: str | None) -> None:
    from scaler_wizard.artifacts.gguf_vocab import QWEN2_SPLIT, pre_tokenizer_name

    if pre and pre.get("type") == "Sequence" and pre["pretokenizers"][0]["type"] == "Split":
        pre["pretokenizers"][0]["pattern"]["Regex"] = QWEN2_SPLIT
    assert pre_tokenizer_name(pre) == name


def _saved(folder: Path, tokenizer: Any) -> Path:
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_embedded_model_gguf_matches_its_safetensors(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf

    folder = convert_gguf(locate_embedded_gguf())  # the same files a merged export holds
    result = export_gguf(folder, tmp_path / "gguf", dtype="f32")
    assert result.tensors == 272 and result.tokenizer_pre == "gpt-2"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(prompt)["input_ids"]
    back_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "gguf", gguf_file="model.gguf")
    assert back_tokenizer(prompt)["input_ids"] == ids
    original = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    diff = logits(original, ids) - logits(load_back(tmp_path / "gguf"), ids)
    assert float(diff.abs().max()) <= 1e-4
    modelfile = (tmp_path / "gguf" / "Modelfile").read_text()
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM' in modelfile
    assert "PARAMETER num_ctx 8192" in modelfile
