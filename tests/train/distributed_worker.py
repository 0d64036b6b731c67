"""Train a tiny LoRA model for a few steps and write the loss curve and final adapter weights.

Run directly (one process) or under `torchrun --nproc_per_node N` (gloo on CPU); rank 0 writes
the result. Used by test_distributed.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for tiny_models

from tiny_models import build_tiny_model, build_tiny_tokenizer


def main() -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from scaler_wizard.data.packing import PackedRow
    from scaler_wizard.recipe.spec import TrainSpec
    from scaler_wizard.telemetry.bus import EventBus
    from scaler_wizard.train import train_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--accum", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(tokenizer)
    torch.manual_seed(0)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    rng = random.Random(0)
    rows = []
    for _ in range(24):
        start = rng.randrange(40)
        ids = [4 + (start + j) % 40 for j in range(32)]  # counting: learnable in a few steps
        labels = [-100 if rng.random() < 0.3 else t for t in ids]  # uneven label counts
        rows.append(PackedRow(ids, labels, list(range(32)), [32]))
    spec = TrainSpec(
        steps=6,
        batch_size=args.batch,
        grad_accum_steps=args.accum,
        learning_rate=1e-2,
        warmup_steps=0,
        log_every=1,
        checkpoint_every=3,
        threads=1,
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = train_model(model, rows, spec, EventBus("dist"), Path(tmp))
        checkpoints = sorted(p.name for p in Path(tmp).iterdir())
    rank = int(__import__("os").environ.get("RANK", "0"))
    if rank == 0:
        weights = {n: p.detach().flatten().tolist() for n, p in model.named_parameters()
                   if p.requires_grad}  # fmt: skip
        args.out.write_text(
            json.dumps({"losses": result.losses, "weights": weights, "checkpoints": checkpoints})
        )


if __name__ == "__main__":
    main()
