"""What each way of sharing training across processes costs per process, on the embedded model.

`python benchmarks/distributed_memory.py` trains the embedded SmolLM2-135M over
`sft_stdlib.jsonl` with `train_model`, under `torchrun --nproc_per_node 2` (gloo, one thread
per process), once per `train.parallel` mode, with a LoRA r16 adapter (all linear layers) and
with every weight trained (full fine-tuning: weights, gradients and Adam state are then most of
the memory, which is what sharding splits), and writes
docs/BENCHMARKS-distributed.md (raw numbers in docs/bench-data/distributed.json).

For each process it records the resident memory just before training and the highest resident
memory while training (sampled every 10 ms: `ru_maxrss` would include loading the model, which
every mode does whole), the seconds per optimizer step, and the loss curve. The baseline is
`ddp` in the same run: every mode's curve must match it, and its memory and time are given as
ratios to it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sft_stdlib.jsonl"
MODES: list[tuple[str, str]] = [  # label, train.parallel:train.offload:what trains
    ("LoRA, ddp", "ddp:none:lora"),
    ("LoRA, fsdp", "fsdp:none:lora"),
    ("LoRA, zero2", "zero2:none:lora"),
    ("LoRA, zero3", "zero3:none:lora"),
    ("LoRA, zero3, offload parameters", "zero3:parameters:lora"),
    ("full, ddp", "ddp:none:full"),
    ("full, fsdp", "fsdp:none:full"),
    ("full, zero2", "zero2:none:full"),
    ("full, zero3", "zero3:none:full"),
]
SEQ_LENGTH = 512
TRAINS = {"lora": "LoRA", "full": "Full fine-tuning"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--worker", help="one mode (under torchrun): parallel:offload:lora|full")
    parser.add_argument("--out", type=Path, help="the worker's result folder")
    parser.add_argument(
        "--render", action="store_true", help="rewrite the page from the saved measurements"
    )
    args = parser.parse_args()
    saved = ROOT / "docs" / "bench-data" / "distributed.json"
    page = ROOT / "docs" / "BENCHMARKS-distributed.md"
    if args.render:
        page.write_text(render(json.loads(saved.read_text())))
        return
    if args.worker:
        worker(args.worker, args.data, args.steps, args.out)
        return
    results = []
    for label, mode in MODES:
        print(f"{label} ...", flush=True)
        results.append({"label": label, "mode": mode, "ranks": launch(mode, args)})
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/distributed_memory.py",
        "steps": args.steps,
        "seq_length": SEQ_LENGTH,
        "processes": 2,
        "results": results,
    }
    saved.write_text(json.dumps(report, indent=1))
    page.write_text(render(report))
    print(render(report))


def launch(mode: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    out = ROOT / ".bench-distributed" / mode.replace(":", "-")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("rank-*.json"):
        old.unlink()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += [__file__, "--worker", mode, "--data", str(args.data), "--steps", str(args.steps)]
    command += ["--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"{mode} failed:\n{done.stderr[-4000:]}")
    return [json.loads(p.read_text()) for p in sorted(out.glob("rank-*.json"))]


def worker(mode: str, data: Path, steps: int, out: Path) -> None:
    import torch

    from scaler_wizard.data import prepare_data
    from scaler_wizard.growth import GrowthContext
    from scaler_wizard.growth.lora import LoraOptions, apply_lora
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import DataSpec, TokenizerSpec, TrainSpec
    from scaler_wizard.telemetry.bus import EventBus
    from scaler_wizard.train import train_model

    parallel, offload, trains = mode.split(":")
    torch.manual_seed(0)
    path = convert_gguf(locate_embedded_gguf())
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    model = load_model(path, load_config(path))
    if trains == "lora":
        context = GrowthContext(train_tokens=0, memory_gib=0.0, has_cuda=False)
        model, _ = apply_lora(model, LoraOptions(r=16, alpha=32, dropout=0.0), context)
    else:
        model.requires_grad_(True)
    rows = prepare_data(DataSpec(train=str(data), seq_length=SEQ_LENGTH), tokenizer).train_rows
    spec = TrainSpec(
        steps=steps,
        batch_size=1,
        learning_rate=2e-4 if trains == "lora" else 2e-5,
        warmup_steps=0,
        log_every=1,
        checkpoint_every=10**6,
        threads=1,
        parallel=parallel,  # type: ignore[arg-type]
        offload=offload,  # type: ignore[arg-type]
    )
    sampler = RssSampler()
    before = rss_gib()
    with sampler:
        started = time.perf_counter()
        result = train_model(model, rows, spec, EventBus("bench"), out / "checkpoints")
        seconds = time.perf_counter() - started
    rank = int(os.environ.get("RANK", "0"))
    (out / f"rank-{rank}.json").write_text(
        json.dumps(
            {
                "rank": rank,
                "rss_before_gib": before,
                "rss_training_peak_gib": sampler.peak,
                "seconds_per_step": seconds / steps,
                "losses": result.losses,
            }
        )
    )


def rss_gib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**30


class RssSampler:
    """The highest resident memory of this process while the block runs (every 10 ms)."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_gib())
            time.sleep(0.01)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_gib())


def render(report: dict[str, Any]) -> str:
    lines = [
        "# Sharing training across processes: memory and time per process",
        "",
        f"Measured {report['date']} with `{report['command']}`: the embedded SmolLM2-135M, "
        f"float32, {report['processes']} processes under torchrun (gloo, one thread each) on "
        f"this machine's CPU, {report['steps']} optimizer steps of one packed "
        f"{report['seq_length']}-token row per process; LoRA r16 (alpha 32, all linear layers) "
        "or every weight trained (full). Memory is the highest resident memory of a process "
        "while training (sampled every 10 ms), the larger of the two processes; each mode is "
        "compared with `ddp` training the same thing in the same run.",
        "",
        "| trains, mode | RSS before training (GiB) | peak RSS while training (GiB) | vs ddp | "
        "s / step | vs ddp | losses equal to ddp's |",
        "|---|---|---|---|---|---|---|",
    ]
    baselines: dict[str, dict[str, Any]] = {}
    lowest: dict[str, tuple[float, str]] = {}  # per what trains: the smallest peak ratio
    for entry in report["results"]:
        trains = entry["mode"].split(":")[2]
        base = baselines.setdefault(trains, entry)
        peak, before, step = _worst(entry)
        base_peak, _, base_step = _worst(base)
        losses = [loss for _, loss in entry["ranks"][0]["losses"]]
        base_losses = [loss for _, loss in base["ranks"][0]["losses"]]
        same = all(abs(a - b) <= 1e-4 * abs(b) for a, b in zip(losses, base_losses, strict=True))
        if entry is not base:
            lowest[trains] = min(
                lowest.get(trains, (math.inf, "")), (peak / base_peak, entry["label"])
            )
        lines.append(
            f"| {entry['label']} | {before:.2f} | {peak:.2f} | {peak / base_peak:.2f}x | "
            f"{step:.2f} | {step / base_step:.2f}x | {'yes' if same else 'NO'} |"
        )
    for trains, (ratio, label) in lowest.items():
        # Within 5% is within this machine's run-to-run noise for peak RSS.
        verdict = "lowers" if ratio < 0.95 else "does not lower"
        lines += [
            "",
            f"{TRAINS[trains]}: sharding {verdict} a process's peak RSS here (the lowest is "
            f"{label}, {ratio:.2f}x ddp's).",
        ]
    lines += [
        "",
        "What sharding splits is weights, gradients and optimizer state: for this 135M model "
        "that is at most 2 GiB per process (full fine-tuning), while the activations of a "
        "step, the allocator's retained blocks and the communication buffers make up the rest "
        "of the peak, and at the end every process gets the whole model back (rank 0 "
        "evaluates it alone). Sharding should pay where those states dominate (larger models, "
        "on GPUs); that is not measured here.",
        "",
        "Every process loads the whole model before training (the first column); the sharded "
        "modes then free the shares they do not hold. On GPUs the same split applies to device "
        "memory; offloading keeps the fp32 master weights and Adam state in RAM, so on a "
        "machine without GPUs it moves nothing and only adds work.",
        "",
    ]
    return "\n".join(lines)


def _worst(entry: dict[str, Any]) -> tuple[float, float, float]:
    """Peak RSS while training, RSS before it and seconds per step: the larger process's."""
    ranks = entry["ranks"]
    return (
        max(r["rss_training_peak_gib"] for r in ranks),
        max(r["rss_before_gib"] for r in ranks),
        max(r["seconds_per_step"] for r in ranks),
    )


if __name__ == "__main__":
    main()
