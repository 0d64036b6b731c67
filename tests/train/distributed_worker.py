"""Train a tiny LoRA model for a few steps and write the loss curve and final adapter weights.

Run directly (one process) or under `torchrun --nproc_per_node N` (gloo on CPU); rank 0 writes
the result (also the gradient norms, and with `--resume` the weights of a second training that
resumes the same model from the first one's checkpoint). `--gradient-checkpointing`,
`--distill` (a one-layer teacher) and `--prefix` (prefix tuning instead of LoRA) train the same
way with that feature on. Used by test_distributed.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for tiny_models

from tiny_models import build_tiny_model, build_tiny_tokenizer


def main() -> None:
    import torch
    from peft import LoraConfig, PrefixTuningConfig, get_peft_model

    from scaler_wizard.data.packing import PackedRow
    from scaler_wizard.recipe.spec import DistillSpec, TrainSpec
    from scaler_wizard.telemetry.bus import EventBus
    from scaler_wizard.train import train_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--accum", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--parallel", default="ddp")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--distill", action="store_true")
    parser.add_argument("--prefix", action="store_true")
    parser.add_argument("--max-grad-norm", type=float, default=0.3)
    parser.add_argument("--offload", default="none")
    args = parser.parse_args()
    tokenizer = build_tiny_tokenizer()

    model = build_tiny_model(tokenizer)
    torch.manual_seed(0)
    if args.prefix:  # trains a parameter outside the decoder layers: the root unit's
        config: Any = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=5)
    else:
        config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")
    model = get_peft_model(model, config)
    # A different (one-layer) model, so that its soft targets differ from the student's.
    teacher = build_tiny_model(tokenizer, layers=1) if args.distill else None
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
        max_grad_norm=args.max_grad_norm,  # some steps clip at 0.3: sharded clipping is compared
        threads=1,
        parallel=args.parallel,
        offload=args.offload,
        gradient_checkpointing=args.gradient_checkpointing,
        distill=DistillSpec(weight=0.5, temperature=2.0) if args.distill else None,
    )
    norms = GradNorms()
    offloaded: list[list[bool]] = []  # per DeepSpeed engine: optimizer, parameters offloaded
    held = watch_zero(offloaded) if args.parallel.startswith("zero") else watch_sharding()
    out: dict[str, Any] = {}
    folder = args.out.parent / f"{args.out.stem}-checkpoints"  # the processes share it
    calls = count_calls(model)
    start = trainable(model)
    result = train_model(model, rows, spec, EventBus("dist", [norms]), folder, teacher=teacher)
    calls.remove()
    out["checkpoints"] = sorted(p.name for p in folder.iterdir())
    out |= {"losses": result.losses, "weights": trainable(model), "grad_norms": norms.seen}
    out |= {"distill_losses": result.distill_losses, "layer_calls": calls.seen}
    out["moved"] = max(  # how far training moved the trainable weights
        abs(a - b) for name, values in start.items()
        for a, b in zip(values, out["weights"][name], strict=True)
    )  # fmt: skip
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        # Training has left the sharding: rank 0 alone can run the model (a hook left behind
        # would wait here for the other process forever).
        from scaler_wizard.train.sharding import fsdp_hooks
        from scaler_wizard.train.zero import zero_hooks

        out["hooks_left"] = fsdp_hooks(model) + zero_hooks(model)
        with torch.no_grad():
            model(input_ids=torch.tensor([rows[0].input_ids]))
    if args.resume:
        # The same model object trains again (sharded afresh, as after a breaker gate), resumed
        # from the middle: it must end where it ended, as if never interrupted.
        checkpoint = folder / "step-000003"
        train_model(
            model, rows, spec, EventBus("dist"), folder, resume_from=checkpoint, teacher=teacher
        )
        out["resumed"] = trainable(model)
    if rank == 0:
        out["held"] = held  # the share of the model this process held in each training
        out["offloaded"] = [[bool(what) for what in engine] for engine in offloaded]
        args.out.write_text(json.dumps(out))


def watch_sharding() -> list[float]:
    """Record, each time the loop shards a model, the share of its elements this process holds
    (1.0 unsharded)."""
    from torch.distributed.tensor import DTensor

    from scaler_wizard.train import sharding

    held: list[float] = []
    shard = sharding.shard

    def recording(model: Any, *args: Any, **kwargs: Any) -> Any:
        root = shard(model, *args, **kwargs)
        params = list(model.parameters())
        local = sum(p.to_local().numel() if isinstance(p, DTensor) else p.numel() for p in params)
        held.append(local / sum(p.numel() for p in params))
        return root

    sharding.shard = recording  # the loop looks it up when it shards
    return held


def watch_zero(offloaded: list[list[bool]]) -> list[float]:
    """Record, each time the loop starts a DeepSpeed engine, the share of the model's elements
    this process holds and the share of the Adam state (ZeRO-3 splits even a tiny model's
    parameters here: the persistence threshold is 0), and in `offloaded` what it offloads."""
    from scaler_wizard.train import zero

    zero.ENGINE_DEFAULTS["stage3_param_persistence_threshold"] = 0
    held: list[float] = []

    class Watched(zero.ZeroRun):
        def __init__(self, model: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(model, *args, **kwargs)
            params = list(model.parameters())
            local = sum(getattr(p, "ds_tensor", p).numel() for p in params)
            held.append(local / sum(zero.param_numel(p) for p in params))
            adam = sum(flat.numel() for flat in self.flat_partitions())
            held.append(adam / sum(zero.param_numel(p) for p in self.params))
            engine = self.engine
            offloaded.append([engine.zero_offload_optimizer(), engine.zero_offload_param()])

    zero.ZeroRun = Watched  # type: ignore[misc] # the loop looks it up when it starts one
    return held


class LayerCalls:
    """Counts the forward calls of a module inside the first decoder layer (a checkpointed
    layer computes twice per micro-batch: forward, then again in backward; the layer's own
    hooks, FSDP's among them, stay outside the checkpoint and run once)."""

    def __init__(self, layer: Any) -> None:
        self.seen = 0
        self.handle = layer.register_forward_pre_hook(self.count)

    def count(self, module: Any, args: Any) -> None:
        self.seen += 1

    def remove(self) -> None:
        self.handle.remove()


def count_calls(model: Any) -> LayerCalls:
    from scaler_wizard.train.sharding import decoder_layers

    return LayerCalls(decoder_layers(model)[0].mlp)


class GradNorms:
    """A sink that keeps the gradient norm of each logged step."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def handle(self, event: Any) -> None:
        if event.type == "StepLogged":
            self.seen.append(event.data["grad_norm"])

    def close(self) -> None:
        return None


def trainable(model: Any) -> dict[str, list[float]]:
    return {n: p.detach().flatten().tolist() for n, p in model.named_parameters()
            if p.requires_grad}  # fmt: skip


if __name__ == "__main__":
    main()
