"""Rank resolution before training: pick LoRA rank/alpha from the data size and the hardware."""

from __future__ import annotations

from dataclasses import dataclass

# Rank steps by planned training tokens: small data cannot inform many adapter parameters,
# and higher ranks mostly add optimizer memory (common PEFT practice: r 8–64).
TOKEN_STEPS = ((1_000_000, 8), (10_000_000, 16), (100_000_000, 32))
MAX_RANK = 64
CPU_MAX_RANK = 16


@dataclass(frozen=True)
class RankChoice:
    rank: int
    alpha: int
    reason: str


def resolve_rank(train_tokens: int, has_cuda: bool) -> RankChoice:
    rank = next((r for limit, r in TOKEN_STEPS if train_tokens < limit), MAX_RANK)
    reason = f"{train_tokens:,} planned training tokens → rank {rank}"
    if not has_cuda and rank > CPU_MAX_RANK:
        reason += f", capped at {CPU_MAX_RANK} on CPU (optimizer memory and step time)"
        rank = CPU_MAX_RANK
    return RankChoice(rank=rank, alpha=2 * rank, reason=reason + f"; alpha = 2×rank = {2 * rank}")
