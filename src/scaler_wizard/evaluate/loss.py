"""Causal-LM loss on label positions only, in chunks: full [tokens x vocab] logits never exist."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

IGNORE_INDEX = -100


def backbone_and_head(model: Any) -> tuple[Any, Any]:
    """The decoder stack (hidden states out) and the LM head, for plain and PEFT-wrapped models."""
    from scaler_wizard.models.loader import unwrap

    base = unwrap(model)
    decoder = getattr(base, base.base_model_prefix)
    return decoder, base.get_output_embeddings()


def prefix_config(model: Any) -> Any:
    """The active adapter's config if it is a prompt-learning method (prefix tuning), else None."""
    config = getattr(model, "active_peft_config", None) if hasattr(model, "peft_config") else None
    return config if getattr(config, "is_prompt_learning", False) else None


def decoder_hidden(
    model: Any,
    decoder: Any,
    input_ids: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The decoder's last hidden states; a prefix-tuned model's prefix is fed as PEFT does."""
    from scaler_wizard.models.packed_attention import packing_kwargs

    config = prefix_config(model)
    if config is None:
        return decoder(  # type: ignore[no-any-return]
            input_ids=input_ids,
            position_ids=position_ids,
            attention_mask=attention_mask,
            use_cache=False,
            **packing_kwargs(model, position_ids, attention_mask),
        ).last_hidden_state
    return _prefixed_hidden(model, config, decoder, input_ids, position_ids, attention_mask)


def _prefixed_hidden(
    model: Any,
    config: Any,
    decoder: Any,
    input_ids: torch.Tensor,
    position_ids: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
) -> torch.Tensor:
    """PeftModelForCausalLM.forward for prefix tuning, minus the full-vocabulary logits.

    PEFT passes `get_prompt(batch)` (a Cache holding the prefix) as the past, prepends ones for
    the prefix to an attention mask (when one is given), and shifts given position ids by
    `num_virtual_tokens` (without them the model counts on from the cache: the same positions).
    """
    import torch

    if config.peft_type != "PREFIX_TUNING":  # PeftType is a str enum
        raise ValueError(f"the chunked loss supports prefix tuning, not {config.peft_type}")
    checkpointed = any(getattr(m, "gradient_checkpointing", False) for m in decoder.modules())
    if checkpointed and torch.is_grad_enabled():
        # Transformers drops the cache (our prefix) from checkpointed layers: the prefix would
        # silently get no gradient.
        raise ValueError(
            "prefix tuning cannot train with gradient checkpointing (the checkpointed layers "
            "drop the prefix); set train.gradient_checkpointing: false"
        )
    batch, length = input_ids.shape
    virtual = int(config.num_virtual_tokens)
    expected = torch.arange(length, device=input_ids.device).expand(batch, -1)
    if position_ids is None:
        position_ids = expected
    elif not torch.equal(position_ids, expected):
        # Packed rows: with a cache present transformers builds a plain causal mask, so packed
        # documents would see each other. The pipeline unpacks rows for prefix tuning.
        raise ValueError(
            "prefix tuning needs one example per row (positions 0, 1, ...): set data.packing "
            "to false"
        )
    if attention_mask is not None:
        prefix = attention_mask.new_ones((batch, virtual))
        attention_mask = torch.cat((prefix, attention_mask), dim=1)
    past = model.get_prompt(batch, max_cache_len=length + virtual)
    return decoder(  # type: ignore[no-any-return]
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids + virtual,
        use_cache=False,
        **{cache_argument(decoder): past},
    ).last_hidden_state


def cache_argument(module: Any) -> str:
    """The keyword a model's forward (and generate) takes its KV cache by."""
    import inspect

    # transformers 5 renamed `past_key_values` to `cache`; the old name is deprecated.
    parameters = inspect.signature(module.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def label_hidden(
    model: Any,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Last hidden states [n, hidden] at the n positions whose next-token label is set, and
    those labels [n]: one selection, so a teacher and its student score the same positions."""
    decoder, _ = backbone_and_head(model)
    hidden = decoder_hidden(model, decoder, input_ids, position_ids, attention_mask)
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    return hidden[:, :-1][keep], targets[keep]


def label_loss_sum(
    model: Any,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    chunk_tokens: int = 1024,
    recompute_chunks: bool = False,
    attention_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over positions whose next-token label is set, and their count.

    Packed rows pass reset `position_ids` and no attention mask: transformers then builds a
    block-diagonal causal mask, so documents never attend to each other.
    A prefix-tuned model needs unpacked rows; right padding needs no mask (no real token can
    see it), but one may be given. Its loss equals PEFT's own forward's.
    With a gradient wanted and a plain LM head, each chunk's gradient is taken in forward
    (`linear_cross_entropy`); otherwise, with `recompute_chunks`, each chunk's logits are
    recomputed in backward instead of kept.
    """
    import torch
    from torch.nn import functional
    from torch.utils.checkpoint import checkpoint

    from scaler_wizard.evaluate.linear_cross_entropy import (
        fused_applies,
        linear_cross_entropy_sum,
    )

    _, head = backbone_and_head(model)
    selected, wanted = label_hidden(model, input_ids, labels, position_ids, attention_mask)
    if fused_applies(head, selected):
        return linear_cross_entropy_sum(head, selected, wanted, chunk_tokens), int(wanted.numel())

    def chunk_loss(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return functional.cross_entropy(head(h).float(), y, reduction="sum")

    total = selected.new_zeros((), dtype=torch.float32)
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
    hidden = decoder_hidden(model, decoder, input_ids, position_ids)[:, :-1]
    targets = input_ids[:, 1:]
    out = torch.empty(targets.shape, dtype=torch.float32, device=hidden.device)
    for start in range(0, targets.shape[1], chunk_tokens):
        stop = start + chunk_tokens
        logits = head(hidden[:, start:stop]).float()
        out[:, start:stop] = functional.cross_entropy(
            logits.transpose(1, 2), targets[:, start:stop], reduction="none"
        )
    return out
