"""Training memory: the estimate (`hardware.training_memory`) against measured peak RSS.

Each configuration runs in a fresh process: load the embedded SmolLM2-135M-Instruct (float32),
add LoRA on every linear layer, and run the real training loop (`train_model`) for a few
optimizer steps on full-length rows. The process's peak RSS is compared with the estimate
for the same configuration; the target is |error| ≤ 15 % on every row.

    python benchmarks/memory_calibration.py            # all configurations, writes the docs
    python benchmarks/memory_calibration.py --one '{"rank": 8, "batch": 1, "seq": 256, ...}'
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "bench-data" / "memory.json"
REPORT = ROOT / "docs" / "BENCHMARKS-memory.md"
STEPS = 2
CONFIGS: list[dict[str, Any]] = [
    {"rank": 8, "batch": 1, "seq": 256, "checkpointing": False},
    {"rank": 8, "batch": 2, "seq": 512, "checkpointing": False},
    {"rank": 8, "batch": 1, "seq": 1024, "checkpointing": False},
    {"rank": 64, "batch": 1, "seq": 512, "checkpointing": False},
    {"rank": 8, "batch": 1, "seq": 2048, "checkpointing": False},
    {"rank": 8, "batch": 1, "seq": 1024, "checkpointing": True},
    {"rank": 8, "batch": 2, "seq": 1024, "checkpointing": True},
    {"rank": 8, "batch": 4, "seq": 512, "checkpointing": True},
    {"rank": 16, "batch": 1, "seq": 2048, "checkpointing": True},
    {"rank": 16, "batch": 4, "seq": 1024, "checkpointing": True},
]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def measure_one(cfg: dict[str, Any]) -> dict[str, Any]:
    """Runs inside a fresh process: the real loop on the real model, peak RSS at each stage."""
    import random

    from scaler_wizard.catalog import build_catalog
    from scaler_wizard.data.packing import PackedRow
    from scaler_wizard.growth import GrowthContext
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.recipe.spec import TrainSpec
    from scaler_wizard.telemetry.bus import EventBus
    from scaler_wizard.train import train_model

    after_imports = peak_rss_gib()
    path = convert_gguf(locate_embedded_gguf())
    config = load_config(path)
    model = load_model(path, config)
    entry = build_catalog().growth.get("lora")
    options = entry.options.model_validate({"r": cfg["rank"], "target_modules": "all-linear"})
    context = GrowthContext(train_tokens=10_000, memory_gib=24.0, has_cuda=False)
    model, report = entry.impl(model, options, context)
    after_load = peak_rss_gib()
    rng = random.Random(0)
    seq = int(cfg["seq"])
    rows = []
    for _ in range(int(cfg["batch"]) * STEPS):
        ids = [rng.randrange(100, int(config.vocab_size)) for _ in range(seq)]
        rows.append(PackedRow(ids, list(ids), list(range(seq)), [seq]))
    spec = TrainSpec(
        steps=STEPS,
        batch_size=int(cfg["batch"]),
        warmup_steps=0,
        log_every=1,
        checkpoint_every=10_000,
        gradient_checkpointing=bool(cfg["checkpointing"]),
    )
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_model(model, rows, spec, EventBus("calibration"), Path(tmp))
    return {
        **cfg,
        "trainable": report.trainable,
        "after_imports_gib": after_imports,
        "after_load_gib": after_load,
        "peak_gib": peak_rss_gib(),
        "seconds": time.perf_counter() - started,
    }


def estimate(cfg: dict[str, Any]) -> dict[str, float]:
    from scaler_wizard.hardware.training_memory import TrainingShape, estimate_training_memory
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.loader import load_config

    config = load_config(convert_gguf(locate_embedded_gguf()))
    shape = TrainingShape(
        batch_size=int(cfg["batch"]),
        seq_length=int(cfg["seq"]),
        gradient_checkpointing=bool(cfg["checkpointing"]),
        lora_rank=int(cfg["rank"]),
    )
    return estimate_training_memory(config, shape).model_dump()


def run_all(done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Measure every configuration not already in `done` (a saved result list)."""
    rows = list(done)
    measured_keys = [{k: r[k] for k in CONFIGS[0]} for r in done]
    for cfg in CONFIGS:
        if cfg in measured_keys:
            continue
        command = [sys.executable, __file__, "--one", json.dumps(cfg)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{cfg} failed:\n{done.stderr[-2000:]}")
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(measured), flush=True)
        rows.append(measured)
    return rows


def write_report(rows: list[dict[str, Any]]) -> None:
    lines = []
    worst = 0.0
    for r in rows:
        est = estimate(r)
        error = est["total_gib"] / r["peak_gib"] - 1
        worst = max(worst, abs(error))
        lines.append(
            f"| {r['rank']} | {r['batch']} | {r['seq']} | {'yes' if r['checkpointing'] else 'no'} "
            f"| {r['peak_gib']:.2f} | {est['total_gib']:.2f} | {error:+.1%} | "
            f"{est['activations_gib']:.2f} | {r['seconds']:.0f} |"
        )
    table = "\n".join(lines)
    REPORT.write_text(f"""# Training memory: estimate against measured peak RSS

`python benchmarks/memory_calibration.py` ({datetime.now(UTC):%Y-%m-%d}). Each row is a fresh
process: the embedded SmolLM2-135M-Instruct in float32, LoRA on every linear layer, the real
training loop for {STEPS} optimizer steps on full-length rows, 2 CPU cores. "Measured" is the
process's peak RSS (everything: Python, torch, weights, optimizer, activations); "estimate" is
`scaler_wizard.hardware.training_memory.estimate_training_memory` for the same shape, which
`scaler-wizard profile` and `plan` use. Target: every row within ±15 %.

Fitted, not predicted: `RUNTIME_GIB` (the 256-token row) and `ACTIVATION_CALIBRATION` (the
slope between the 1024- and 2048-token rows without checkpointing); the other rows without
checkpointing are predictions. The two `CHECKPOINTED_*` constants are a least-squares line
through all the rows with checkpointing, whose peaks do not grow linearly with tokens: they are
the least certain part of the model. The seconds column
ran on a shared CPU and is not a speed measurement.

| LoRA r | batch | seq | checkpointing | measured GiB | estimate GiB | error | activations | s |
|---|---|---|---|---|---|---|---|---|
{table}

Largest error: {worst:.1%}. Raw measurements: `docs/bench-data/memory.json`.
""")
    print(REPORT.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", help="measure one configuration (JSON) in this process")
    parser.add_argument(
        "--report-only", action="store_true", help="re-estimate the saved measurements"
    )
    parser.add_argument(
        "--missing", action="store_true", help="keep saved measurements, add the missing ones"
    )
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(json.loads(args.one))))
        return
    if args.report_only:
        rows = json.loads(RESULTS.read_text())
    else:
        saved = json.loads(RESULTS.read_text()) if args.missing and RESULTS.is_file() else []
        rows = run_all(saved)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    write_report(rows)


if __name__ == "__main__":
    main()
