"""Packed SDPA: the same outputs and gradients as transformers' SDPA with a block mask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from scaler_wizard.evaluate.loss import label_loss_sum
from scaler_wizard.models.loader import load_config, load_model
from scaler_wizard.models.packed_attention import (
    PACKED_SDPA,
    enable_packed_attention,
    packed_sdpa_forward,
    packing_kwargs,
    record_bounds,
    uses_packed_attention,
)
from tiny_models import build_tiny_model


def packed_batch(vocab: int) -> dict[str, torch.Tensor]:
    """Two rows of 24 tokens: records of 5, 11 and 8 tokens, then 13 and 11 (no pad tail)."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, vocab, (2, 24), generator=generator)
    positions = torch.cat(
        [
            torch.cat([torch.arange(5), torch.arange(11), torch.arange(8)]),
            torch.cat([torch.arange(13), torch.arange(11)]),
        ]
    ).view(2, 24)
    labels = ids.clone()
    labels[positions == 0] = -100
    return {"input_ids": ids, "labels": labels, "position_ids": positions}


def loss_and_grads(model: Any, batch: dict[str, torch.Tensor]) -> tuple[float, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss, _ = label_loss_sum(
        model, batch["input_ids"], batch["labels"], batch["position_ids"], chunk_tokens=7
    )
    loss.backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return float(loss.detach()), grads


def test_record_bounds_cover_every_record_of_every_row() -> None:
    positions = torch.tensor([[0, 1, 2, 0, 1, 0], [0, 1, 0, 1, 2, 3]])
    assert record_bounds(positions).tolist() == [0, 3, 5, 6, 8, 12]
    # A row that starts mid-record still starts a record; a pad tail continuing the
    # positions (unpacked rows) stays with its example.
    assert record_bounds(torch.tensor([[4, 5, 6, 7]])).tolist() == [0, 4]


def test_packed_rows_give_the_same_loss_and_gradients_as_block_masked_sdpa(
    tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = build_tiny_model(tiny_tokenizer).train()
    batch = packed_batch(len(tiny_tokenizer))
    assert model.config._attn_implementation == "sdpa"
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # GQA path
    masked_loss, masked_grads = loss_and_grads(model, batch)

    assert enable_packed_attention(model)
    assert uses_packed_attention(model)
    kwargs = packing_kwargs(model, batch["position_ids"], None)
    assert kwargs["cu_seq_lens_q"].tolist() == [0, 5, 16, 24, 37, 48]
    calls: list[int] = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def counted(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(args[0].shape[2])
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counted)
    packed_loss, packed_grads = loss_and_grads(model, batch)
    assert calls == [5, 11, 8, 13, 11] * model.config.num_hidden_layers  # one call per record

    assert packed_loss == pytest.approx(masked_loss, rel=1e-5)
    torch.testing.assert_close(packed_grads, masked_grads, rtol=1e-4, atol=1e-6)


def test_records_really_are_kept_apart(tiny_tokenizer: Any) -> None:
    """Changing one record's tokens leaves the other records' hidden states unchanged."""
    model = build_tiny_model(tiny_tokenizer)
    enable_packed_attention(model)
    batch = packed_batch(len(tiny_tokenizer))
    decoder = model.model

    def hidden(ids: torch.Tensor) -> torch.Tensor:
        kwargs = packing_kwargs(model, batch["position_ids"], None)
        with torch.no_grad():
            out = decoder(input_ids=ids, position_ids=batch["position_ids"], **kwargs)
        return out.last_hidden_state

    before = hidden(batch["input_ids"])
    changed = batch["input_ids"].clone()
    changed[0, 5:16] = 3  # the second record of the first row
    after = hidden(changed)
    torch.testing.assert_close(after[0, :5], before[0, :5])
    torch.testing.assert_close(after[0, 16:], before[0, 16:])
    assert not torch.allclose(after[0, 5:16], before[0, 5:16])


def test_without_bounds_it_is_transformers_sdpa(tiny_tokenizer: Any) -> None:
    """Generation, padding masks and caches take transformers' own SDPA path unchanged."""
    plain = build_tiny_model(tiny_tokenizer)
    packed = build_tiny_model(tiny_tokenizer)
    enable_packed_attention(packed)
    ids = torch.randint(3, len(tiny_tokenizer), (2, 9), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # left padding
    assert packing_kwargs(packed, None, mask) == {}
    with torch.no_grad():
        expected = plain(input_ids=ids, attention_mask=mask).logits
        got = packed(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(got, expected)
    settings = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": 0}
    assert torch.equal(
        packed.generate(ids, attention_mask=mask, **settings),
        plain.generate(ids, attention_mask=mask, **settings),
    )


def test_a_sliding_window_layer_falls_back_to_the_masked_path() -> None:
    class Layer(torch.nn.Module):
        sliding_window = 4
        num_key_value_groups = 1
        is_causal = True

    q, k, v = (torch.randn(1, 2, 6, 8) for _ in range(3))
    bounds = torch.tensor([0, 6], dtype=torch.int32)
    # A window of 4 inside one 6-token record: a plain causal call would see too far back.
    window = torch.ones(6, 6, dtype=torch.bool).tril() & ~torch.ones(6, 6, dtype=torch.bool).tril(
        -4
    )
    out, _ = packed_sdpa_forward(Layer(), q, k, v, window[None, None], cu_seq_lens_q=bounds)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=window)
    torch.testing.assert_close(out, expected.transpose(1, 2))


def test_other_attention_implementations_are_left_alone(tiny_tokenizer: Any) -> None:
    model = build_tiny_model(tiny_tokenizer)
    model.set_attn_implementation("eager")
    assert not enable_packed_attention(model)
    assert model.config._attn_implementation == "eager"
    assert packing_kwargs(model, torch.zeros(1, 4, dtype=torch.long), None) == {}


def test_loaded_models_attend_per_record_and_save_as_plain_models(
    tiny_tokenizer: Any, tmp_path: Path
) -> None:
    build_tiny_model(tiny_tokenizer).save_pretrained(tmp_path / "tiny")
    model = load_model(tmp_path / "tiny", load_config(tmp_path / "tiny"))
    assert model.config._attn_implementation == PACKED_SDPA
    model.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert PACKED_SDPA not in json.dumps(saved)  # other tools load it without this package
