"""Model sources and tokenizer preparation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from scaler_wizard.models.gguf_convert import ModelSourceError
from scaler_wizard.models.hf_compat import native_context, read_rope
from scaler_wizard.models.loader import count_parameters, load_config, load_model
from scaler_wizard.models.source import resolve_model_source
from scaler_wizard.models.tokenizer_prep import CHATML_TEMPLATE, fit_embeddings, load_tokenizer
from scaler_wizard.recipe.spec import ModelSpec, TokenizerSpec


def test_local_folder_source_and_config_facts(tiny_model_dir: Path) -> None:
    source = resolve_model_source(ModelSpec(source=str(tiny_model_dir)))
    assert source.kind == "folder" and source.path == tiny_model_dir
    config = load_config(source.path)
    assert native_context(config) == 256
    assert read_rope(config) == {"rope_theta": 10000.0, "rope_type": "default"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/no/such/folder", "neither 'embedded'"),
        ("missing.gguf", "GGUF file not found"),
        ("not a hub id", "neither 'embedded'"),
        ("someone/model-that-is-not-cached", "cannot fetch"),
    ],
)
def test_bad_sources_say_what_to_do(
    source: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelSourceError, match=message):
        resolve_model_source(ModelSpec(source=source))


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelSourceError, match=r"no config\.json"):
        resolve_model_source(ModelSpec(source=str(tmp_path)))


def test_tokenizer_prep_keeps_template_and_sets_pad(tiny_model_dir: Path) -> None:
    tokenizer, new = load_tokenizer(tiny_model_dir, TokenizerSpec())
    assert new == []
    assert tokenizer.pad_token is not None
    assert "<|im_start|>" in tokenizer.chat_template


def test_missing_chat_template_falls_back_to_chatml(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    plain = AutoTokenizer.from_pretrained(tiny_model_dir)
    plain.chat_template = None
    plain.save_pretrained(tmp_path)
    for extra in tmp_path.glob("chat_template.*"):
        extra.unlink()
    tokenizer, _ = load_tokenizer(tmp_path, TokenizerSpec())
    assert tokenizer.chat_template == CHATML_TEMPLATE


def test_added_tokens_start_at_the_mean_embedding(tiny_model_dir: Path) -> None:
    tokenizer, new = load_tokenizer(
        tiny_model_dir, TokenizerSpec(add_tokens=["<tool>", "<tool>", "The"])
    )
    assert new == ["<tool>"]  # duplicates and existing tokens are not added
    model: Any = load_model(tiny_model_dir, load_config(tiny_model_dir))
    old_rows = model.get_input_embeddings().weight.shape[0]
    before, _ = count_parameters(model)
    ids = torch.tensor([[5, 9, 17, 33]])
    with torch.no_grad():
        expected = model(ids).logits
    assert fit_embeddings(model, tokenizer) == len(tokenizer) - old_rows
    weight = model.get_input_embeddings().weight
    assert torch.allclose(weight[-1], weight[:old_rows].mean(dim=0), atol=1e-6)
    assert count_parameters(model)[0] > before
    with torch.no_grad():  # old tokens' logits are untouched
        assert torch.allclose(model(ids).logits[..., :old_rows], expected, atol=1e-5)
