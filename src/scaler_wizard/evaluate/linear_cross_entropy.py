"""The LM head and cross-entropy in one autograd step, its gradient taken chunk by chunk in forward.

Training's loss runs the LM head on label positions in chunks so that the whole [tokens x vocab]
logits never exist. Plain autograd must then either keep every chunk's logits for backward or
recompute them there (the head's matmul and log-softmax a second time). Here each chunk's
gradient is taken while its logits exist: d(sum CE)/d logits = softmax - one-hot, so one more
matmul gives the chunk's hidden-state gradient (and the head's, when it trains), and the logits
are freed. Backward only scales the kept gradients by the incoming one. On one 1024-token row of
SmolLM2-135M this removes one of the three vocabulary-wide matmuls and two of the
vocabulary-wide elementwise passes per chunk; memory is one chunk's logits, as before.

It computes the gradient of the loss as a sum, so the loss must enter the objective linearly
(the training loop divides it by the step's label tokens). Distillation, whose KL term needs
the logits themselves, keeps the recomputing path.
"""

from __future__ import annotations

from typing import Any

# Imported at module level: only the training loss imports this module, and it runs torch anyway.
import torch
from torch.nn import functional


def fused_applies(head: Any, hidden: torch.Tensor) -> bool:
    """Whether `linear_cross_entropy_sum` can stand in for `cross_entropy(head(hidden))`: a
    plain `nn.Linear` head (not an adapter-wrapped one) whose weight is whole on this process
    and of the hidden states' dtype, without autocast, with a gradient wanted."""
    if type(head) is not torch.nn.Linear or not torch.is_grad_enabled():
        return False
    weight = head.weight
    if hasattr(weight, "ds_id") or weight.dtype != hidden.dtype:
        return False  # a ZeRO-3 weight is gathered only when its module runs
    if torch.is_autocast_enabled(hidden.device.type):
        return False
    return bool(hidden.requires_grad or weight.requires_grad)


def linear_cross_entropy_sum(
    head: Any, hidden: torch.Tensor, targets: torch.Tensor, chunk_tokens: int
) -> torch.Tensor:
    """Summed cross-entropy of `head(hidden)` [n, vocab] against `targets` [n], float32, with
    the LM head run `chunk_tokens` rows at a time."""
    return LinearCrossEntropySum.apply(hidden, head.weight, head.bias, targets, chunk_tokens)  # type: ignore[no-any-return,no-untyped-call]


class LinearCrossEntropySum(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        chunk_tokens: int,
    ) -> torch.Tensor:
        want_hidden, want_weight, want_bias = ctx.needs_input_grad[:3]
        grad_hidden = torch.empty_like(hidden) if want_hidden else None
        # Accumulated over chunks in at least float32.
        accumulate = torch.promote_types(weight.dtype, torch.float32)
        grad_weight = torch.zeros_like(weight, dtype=accumulate) if want_weight else None
        grad_bias = None
        if bias is not None and want_bias:
            grad_bias = torch.zeros_like(bias, dtype=accumulate)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, targets.numel(), chunk_tokens):
            h = hidden[start : start + chunk_tokens]
            y = targets[start : start + chunk_tokens]
            log_probs = functional.log_softmax(functional.linear(h, weight, bias).float(), -1)
            total -= log_probs.gather(1, y[:, None]).sum()
            # d(sum CE)/d logits = softmax - one-hot, built in the log-probabilities' memory
            grad = log_probs.exp_()
            grad[torch.arange(y.numel(), device=y.device), y] -= 1
            grad = grad.to(hidden.dtype)
            if grad_hidden is not None:
                torch.mm(grad, weight, out=grad_hidden[start : start + chunk_tokens])
            if grad_weight is not None:
                grad_weight.addmm_(grad.t().to(accumulate), h.to(accumulate))
            if grad_bias is not None:
                grad_bias += grad.sum(0, dtype=accumulate)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        # Each gradient goes back in its input's dtype (the head's may have accumulated wider).
        ctx.dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        return total

    @staticmethod
    def backward(ctx: Any, grad_total: torch.Tensor) -> tuple[Any, ...]:
        grads = tuple(
            None if grad is None else (grad * grad_total.to(grad.dtype)).to(dtype)
            for grad, dtype in zip(ctx.saved_tensors, ctx.dtypes, strict=True)
        )
        return (*grads, None, None)  # no gradient for the targets and the chunk size
