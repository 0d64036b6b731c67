"""Rank resolution before training: LoRA rank/alpha from the data size, the hardware and budgets."""

from __future__ import annotations

from dataclasses import dataclass

from scaler_wizard.growth.base import GrowthError

# Rank steps by planned training tokens: small data cannot inform many adapter parameters,
# and higher ranks mostly add optimizer memory (common PEFT practice: r 8–64).
TOKEN_STEPS = ((1_000_000, 8), (10_000_000, 16), (100_000_000, 32))
MAX_RANK = 64
CPU_MAX_RANK = 16
# Each trainable fp32 parameter costs its weight, its gradient and AdamW's two moments.
BYTES_PER_TRAINABLE = 16


@dataclass(frozen=True)
class RankChoice:
    rank: int
    alpha: int
    reason: str


def resolve_rank(
    train_tokens: int,
    has_cuda: bool,
    params_per_rank: int | None = None,
    parameter_budget: int | None = None,
    memory_budget_gib: float | None = None,
) -> RankChoice:
    """The data decides a rank, the hardware caps it, and budgets lower it further.

    `params_per_rank` is how many adapter parameters one unit of rank adds on the targeted
    layers (sum of in + out features); budgets need it.
    """
    rank = next((r for limit, r in TOKEN_STEPS if train_tokens < limit), MAX_RANK)
    reason = f"{train_tokens:,} planned training tokens → rank {rank}"
    if not has_cuda and rank > CPU_MAX_RANK:
        reason += f", capped at {CPU_MAX_RANK} on CPU (optimizer memory and step time)"
        rank = CPU_MAX_RANK
    budgets = []
    if parameter_budget is not None:
        budgets.append(
            (parameter_budget, f"budget of {parameter_budget:,} parameters", "parameter_budget")
        )
    if memory_budget_gib is not None:
        fits = int(memory_budget_gib * 2**30 / BYTES_PER_TRAINABLE)
        budgets.append(
            (fits, f"{memory_budget_gib:g} GiB budget ({fits:,} parameters)", "memory_budget_gib")
        )
    for budget, label, field in budgets:
        per_rank = params_per_rank or 1
        fits = budget // per_rank
        if fits < 1:
            raise GrowthError(
                f"growth.options.{field}",
                f"the {label} is below rank 1 on these layers ({per_rank:,} parameters per rank)",
            )
        if fits < rank:
            rank = 1 << (fits.bit_length() - 1)  # the largest power of two that fits
            reason += f", lowered to {rank} by the {label}: {rank * per_rank:,} parameters"
    return RankChoice(rank=rank, alpha=2 * rank, reason=reason + f"; alpha = 2×rank = {2 * rank}")
