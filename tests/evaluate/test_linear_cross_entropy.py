"""The fused LM head + cross-entropy: plain autograd's loss and gradients, without recompute."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.nn import functional

from scaler_wizard.evaluate.linear_cross_entropy import fused_applies, linear_cross_entropy_sum
from scaler_wizard.evaluate.loss import label_loss_sum
from tiny_models import build_tiny_model


def head_and_hidden(bias: bool, dtype: torch.dtype = torch.float64) -> tuple[Any, torch.Tensor]:
    torch.manual_seed(0)
    head = torch.nn.Linear(12, 50, bias=bias, dtype=dtype)
    hidden = torch.randn(23, 12, dtype=dtype, requires_grad=True)
    return head, hidden


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("chunk_tokens", [5, 23, 64])
def test_loss_and_gradients_equal_plain_autograd(bias: bool, chunk_tokens: int) -> None:
    head, hidden = head_and_hidden(bias)
    targets = torch.randint(0, 50, (23,), generator=torch.Generator().manual_seed(1))
    inputs = [hidden, *head.parameters()]
    # scaled, as the loop divides the sum by the step's label tokens
    fused = linear_cross_entropy_sum(head, hidden, targets, chunk_tokens) / 7
    fused_grads = torch.autograd.grad(fused, inputs)
    plain = functional.cross_entropy(head(hidden).float(), targets, reduction="sum") / 7
    plain_grads = torch.autograd.grad(plain, inputs)
    assert fused.dtype == torch.float32
    torch.testing.assert_close(fused, plain.float())
    for a, b in zip(fused_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_a_frozen_head_gets_no_gradient_and_the_hidden_states_do() -> None:
    head, hidden = head_and_hidden(bias=False, dtype=torch.float32)
    head.requires_grad_(False)
    targets = torch.arange(23) % 50
    assert fused_applies(head, hidden)
    linear_cross_entropy_sum(head, hidden, targets, 8).backward()
    assert head.weight.grad is None and hidden.grad is not None
    expected = torch.autograd.grad(
        functional.cross_entropy(head(hidden), targets, reduction="sum"), hidden
    )[0]
    torch.testing.assert_close(hidden.grad, expected)


def test_it_stands_aside_where_it_cannot_stand_in() -> None:
    head, hidden = head_and_hidden(bias=False, dtype=torch.float32)
    assert fused_applies(head, hidden)
    with torch.no_grad():
        assert not fused_applies(head, hidden)  # evaluation: nothing to differentiate
    assert not fused_applies(head, hidden.double())  # dtypes differ
    frozen = hidden.detach()
    head.requires_grad_(False)
    assert not fused_applies(head, frozen)
    wrapped = torch.nn.Sequential(head)  # an adapter-wrapped head is not an nn.Linear
    assert not fused_applies(wrapped, hidden)


def test_the_training_loss_takes_the_fused_path_with_the_same_gradients(
    tiny_tokenizer: Any,
) -> None:
    ids = torch.randint(3, len(tiny_tokenizer), (2, 20), generator=torch.Generator().manual_seed(0))
    labels = ids.clone()
    labels[:, :5] = -100

    def loss_and_grads(model: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.train()
        assert fused_applies(model.lm_head, torch.zeros(1, 64, requires_grad=True))
        loss, count = label_loss_sum(model, ids, labels, chunk_tokens=7)
        assert count == 2 * 15
        loss.backward()
        return loss.detach(), [p.grad for p in model.parameters()]

    fused_loss, fused_grads = loss_and_grads(build_tiny_model(tiny_tokenizer))
    reference = build_tiny_model(tiny_tokenizer)
    reference.train()
    plain = reference(input_ids=ids, labels=labels).loss * (2 * 15)  # transformers' own loss
    plain.backward()
    torch.testing.assert_close(fused_loss, plain.detach())
    for a, b in zip(fused_grads, [p.grad for p in reference.parameters()], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
