"""Where a Scaler Wizard training step's time goes, and what packed attention costs.

1. One step (one packed 1024-token row, no checkpointing, after one warm-up step) under
   `torch.profiler`: self CPU time by kind of op, with the lean kernels (`models.lean_kernels`
   and the LM head's gradient taken in forward, as `train_model` runs) and without them (the
   model's own forwards, the LM-head chunks recomputed in backward), both models in one
   process; and each variant's unprofiled step time, the fastest of 4 rounds in which the two
   take turns.
2. The attention of that row, forward and backward, for every layer's shapes: as transformers'
   `sdpa` runs it (key/value heads repeated per query head, one call over the whole row with a
   block-diagonal mask, so every query still visits all 1024 keys) and as Scaler Wizard's packed
   SDPA runs it (one causal call per record, grouped heads: only the useful work).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

KINDS = (
    ("attention", ("scaled_dot_product", "flash_attention")),
    ("matmul", ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear")),
    ("loss", ("cross_entropy", "log_softmax", "nll_loss")),
    ("optimizer", ("Optimizer.step", "_foreach", "adam")),
)


def step_function(model: Any, batch: dict[str, Any], lean: bool) -> Callable[[], None]:
    """One optimizer step of `model` on `batch`, as `train_model` runs it (`lean`) or with the
    model's own forwards and the recomputing loss."""
    import torch

    from scaler_wizard.train.loop import accumulate_gradients

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step() -> None:
        with nullcontext() if lean else without_fused_loss():
            accumulate_gradients(model, [batch], 1024, lambda loss: loss.backward())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def alternate(steps: dict[str, Callable[[], None]], rounds: int = 4) -> dict[str, float]:
    """Each step's fastest time over `rounds` rounds, the variants taking turns (the order
    rotating each round), so that load from elsewhere falls on all of them alike."""
    names = list(steps)
    best = dict.fromkeys(names, float("inf"))
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            started = time.perf_counter()
            steps[name]()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def profile_step(step: Callable[[], None]) -> dict[str, Any]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    seconds = {kind: 0.0 for kind, _ in KINDS} | {"other": 0.0}
    others: dict[str, float] = {}
    for event in prof.key_averages():
        kind = next((k for k, keys in KINDS if any(s in event.key for s in keys)), "other")
        seconds[kind] += event.self_cpu_time_total / 1e6
        if kind == "other":
            others[event.key] = event.self_cpu_time_total / 1e6
    top = sorted(others.items(), key=lambda item: -item[1])[:6]
    return {"by_kind": seconds, "top_other": dict(top)}


@contextmanager
def without_fused_loss() -> Iterator[None]:
    """The loss as it runs without `evaluate.linear_cross_entropy`: LM-head chunks recomputed in
    backward."""
    from scaler_wizard.evaluate import linear_cross_entropy

    fused = linear_cross_entropy.fused_applies
    linear_cross_entropy.fused_applies = lambda *_: False  # type: ignore[assignment]
    try:
        yield
    finally:
        linear_cross_entropy.fused_applies = fused


def attention_seconds(lengths: list[int], config: Any, repeats: int = 3) -> dict[str, float]:
    """Forward + backward of every layer's attention over one row, best of `repeats`: as
    transformers' `sdpa` runs a packed row, and as `models.packed_attention` runs it."""
    import torch
    from torch.nn import functional

    heads, dim = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    kv_heads = config.num_key_value_heads
    total = sum(lengths)
    q = torch.randn(1, heads, total, dim, requires_grad=True)
    k, v = (torch.randn(1, kv_heads, total, dim, requires_grad=True) for _ in range(2))
    doc = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    causal = torch.ones(total, total, dtype=torch.bool).tril()
    mask = causal & (doc[:, None] == doc[None, :])
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    groups = heads // kv_heads

    def whole_row() -> None:  # repeat_kv, then one call with the block-diagonal mask
        keys, values = (t.repeat_interleave(groups, dim=1) for t in (k, v))
        functional.scaled_dot_product_attention(q, keys, values, attn_mask=mask).sum().backward()

    def per_record() -> None:
        outs = [
            functional.scaled_dot_product_attention(
                q[:, :, s : s + n],
                k[:, :, s : s + n],
                v[:, :, s : s + n],
                is_causal=True,
                enable_gqa=groups > 1,
            )
            for s, n in zip(starts, lengths, strict=True)
        ]
        torch.cat(outs, dim=2).sum().backward()

    result = {}
    for name, run in (("block_mask_s", whole_row), ("per_record_s", per_record)):
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(config.num_hidden_layers):
                run()
            best = min(best, time.perf_counter() - started)
        result[name] = best
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()

    import torch

    from scaler_wizard.data import collate_rows, prepare_data
    from scaler_wizard.growth import GrowthContext
    from scaler_wizard.growth.lora import LoraOptions, apply_lora
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.lean_kernels import enable_lean_kernels
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import DataSpec, TokenizerSpec

    torch.manual_seed(0)
    path = convert_gguf(locate_embedded_gguf())
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    spec = DataSpec(train=str(args.data), seq_length=1024, packing=True)
    row = random.Random(0).choice(prepare_data(spec, tokenizer).train_rows)
    config = load_config(path)
    steps = {}
    for name in ("plain", "lean"):
        torch.manual_seed(0)
        model = load_model(path, config)  # packed attention on, as `load_model` sets it
        context = GrowthContext(train_tokens=0, memory_gib=0.0, has_cuda=False)
        model, _ = apply_lora(model, LoraOptions(r=16, alpha=32, dropout=0.0), context)
        if name == "lean":
            enable_lean_kernels(model)  # as `train_model` does
        model.train()
        steps[name] = step_function(model, collate_rows([row]), lean=name == "lean")
        steps[name]()  # warm-up
    fastest = alternate(steps)
    profiled = {
        name: profile_step(step) | {"step_s": fastest[name]} for name, step in steps.items()
    }
    # The row's pad tail is a pseudo-document of its own, as the model sees it.
    lengths = [*row.lengths, *([1024 - row.real_tokens] if row.real_tokens < 1024 else [])]
    attention = attention_seconds(lengths, config)
    result = {
        "records": len(row.lengths),
        "step": profiled["lean"],
        "plain_step": profiled["plain"],
    }
    print(json.dumps(result | {"attention": attention}))


if __name__ == "__main__":
    main()
