"""Fused RMSNorm kernels: the same values and gradients, only where a probe shows they match."""

from __future__ import annotations

from typing import Any

import torch
from transformers.models.gemma.modeling_gemma import GemmaRMSNorm
from transformers.models.llama.modeling_llama import LlamaRMSNorm

from scaler_wizard.models.lean_norm import LEAN_FLAG, enable_lean_norms
from tiny_models import build_tiny_model


def test_a_model_trains_the_same_with_fused_norms(tiny_tokenizer: Any) -> None:
    ids = torch.randint(3, len(tiny_tokenizer), (2, 12), generator=torch.Generator().manual_seed(0))

    def loss_and_grads(model: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.train()
        with torch.no_grad():  # norms with weights other than ones
            for module in model.modules():
                if isinstance(module, LlamaRMSNorm):
                    module.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(3))
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return loss.detach(), [p.grad for p in model.parameters()]

    plain_loss, plain_grads = loss_and_grads(build_tiny_model(tiny_tokenizer))
    lean = build_tiny_model(tiny_tokenizer)
    norms = 2 * lean.config.num_hidden_layers + 1
    assert enable_lean_norms(lean) == norms
    assert enable_lean_norms(lean) == norms  # idempotent
    lean_loss, lean_grads = loss_and_grads(lean)
    torch.testing.assert_close(lean_loss, plain_loss)
    for a, b in zip(lean_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_a_norm_of_another_formula_is_left_alone() -> None:
    # Gemma scales by (1 + weight): the probe sees the difference
    gemma = torch.nn.Sequential(GemmaRMSNorm(16))
    assert enable_lean_norms(gemma) == 0
    assert not getattr(gemma[0], LEAN_FLAG, False)
    half = torch.nn.Sequential(LlamaRMSNorm(16).to(torch.bfloat16))
    assert enable_lean_norms(half) == 0  # rounds differently: not probed


def test_mixed_precision_inputs_take_the_modules_own_casts() -> None:
    fused, plain = LlamaRMSNorm(16), LlamaRMSNorm(16)
    enable_lean_norms(torch.nn.Sequential(fused))
    x = torch.randn(3, 16, dtype=torch.bfloat16)
    torch.testing.assert_close(fused(x), plain(x))
