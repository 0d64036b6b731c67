"""Causal-LM loss on label positions only, in chunks: full [tokens x vocab] logits never exist."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

IGNORE_INDEX = -100


def backbone_and_head(model: Any) -> tuple[Any, Any]:
    """The decoder stack (hidden states out) and the LM head, for plain and PEFT-wrapped models."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = getattr(base, base.base_model_prefix)
    return decoder, base.get_output_embeddings()


def label_loss_sum(
    model: Any,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    chunk_tokens: int = 1024,
    recompute_chunks: bool = False,
) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over positions whose next-token label is set, and their count.

    Packed rows pass reset `position_ids` and no attention mask: transformers then builds a
    block-diagonal causal mask, so documents never attend to each other.
    With `recompute_chunks`, each chunk's logits are recomputed in backward instead of kept.
    """
    import torch
    from torch.nn import functional
    from torch.utils.checkpoint import checkpoint

    decoder, head = backbone_and_head(model)
    hidden = decoder(
        input_ids=input_ids, position_ids=position_ids, use_cache=False
    ).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    selected = hidden[:, :-1][keep]
    wanted = targets[keep]

    def chunk_loss(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return functional.cross_entropy(head(h).float(), y, reduction="sum")

    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, wanted.numel(), chunk_tokens):
        h, y = selected[start : start + chunk_tokens], wanted[start : start + chunk_tokens]
        if recompute_chunks and torch.is_grad_enabled():
            total = total + checkpoint(chunk_loss, h, y, use_reentrant=False)
        else:
            total = total + chunk_loss(h, y)
    return total, int(wanted.numel())


def token_nll(
    model: Any,
    input_ids: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    chunk_tokens: int = 1024,
) -> torch.Tensor:
    """Per-position next-token NLL, float32 [batch, tokens - 1]: entry t scores token t + 1.

    The LM head runs on `chunk_tokens` hidden states at a time, so only [chunk x vocab] logits
    exist at once (a 16k pass of a 49k-vocabulary model would otherwise hold 3 GiB of logits).
    """
    import torch
    from torch.nn import functional

    decoder, head = backbone_and_head(model)
    hidden = decoder(
        input_ids=input_ids, position_ids=position_ids, use_cache=False
    ).last_hidden_state[:, :-1]
    targets = input_ids[:, 1:]
    out = torch.empty(targets.shape, dtype=torch.float32, device=hidden.device)
    for start in range(0, targets.shape[1], chunk_tokens):
        stop = start + chunk_tokens
        logits = head(hidden[:, start:stop]).float()
        out[:, start:stop] = functional.cross_entropy(
            logits.transpose(1, 2), targets[:, start:stop], reduction="none"
        )
    return out
