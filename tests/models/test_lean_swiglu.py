"""The lean SwiGLU: the same values and gradients, one saved tensor less per MLP."""

from __future__ import annotations

from typing import Any

import torch

from scaler_wizard.models.lean_swiglu import enable_lean_swiglu, silu_mul
from tiny_models import build_tiny_model


def saved_bytes(run: Any) -> int:
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return sum(seen.values())


def test_silu_mul_matches_autograd_and_saves_less() -> None:
    gate = torch.randn(6, 40, dtype=torch.float64, requires_grad=True)
    up = torch.randn(6, 40, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(silu_mul, (gate, up))
    weight = torch.randn(6, 40, dtype=torch.float64)
    lean = torch.autograd.grad((silu_mul(gate, up) * weight).sum(), (gate, up))
    plain = torch.autograd.grad((torch.nn.functional.silu(gate) * up * weight).sum(), (gate, up))
    for a, b in zip(lean, plain, strict=True):
        torch.testing.assert_close(a, b)
    kept_lean = saved_bytes(lambda: silu_mul(gate, up))
    kept_plain = saved_bytes(lambda: torch.nn.functional.silu(gate) * up)
    assert kept_plain == 3 * gate.numel() * gate.element_size()
    assert kept_lean == 2 * gate.numel() * gate.element_size()


def test_a_model_trains_the_same_with_the_lean_mlp(tiny_tokenizer: Any) -> None:
    ids = torch.randint(3, len(tiny_tokenizer), (2, 12), generator=torch.Generator().manual_seed(0))

    def loss_and_grads(model: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.train()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return loss.detach(), [p.grad for p in model.parameters()]

    plain_loss, plain_grads = loss_and_grads(build_tiny_model(tiny_tokenizer))
    lean = build_tiny_model(tiny_tokenizer)
    assert enable_lean_swiglu(lean) == lean.config.num_hidden_layers
    assert enable_lean_swiglu(lean) == lean.config.num_hidden_layers  # idempotent
    lean_loss, lean_grads = loss_and_grads(lean)
    torch.testing.assert_close(lean_loss, plain_loss)
    for a, b in zip(lean_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_other_activations_are_left_alone(tiny_tokenizer: Any) -> None:
    model = build_tiny_model(tiny_tokenizer)
    model.config.hidden_act = "gelu"
    assert enable_lean_swiglu(model) == 0
