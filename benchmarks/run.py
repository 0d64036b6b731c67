"""`make bench`: measure, against a named baseline in the same run, and write docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sft_stdlib.jsonl"


def measure(mode: str, data: Path, steps: int) -> dict[str, float]:
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "train_throughput.py"),
        "--mode",
        mode,
        "--data",
        str(data),
        "--steps",
        str(steps),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"benchmark data not found: {args.data} (pass --data file.jsonl)")
    ours = measure("scaler-wizard", args.data, args.steps)
    base = measure("plain-peft", args.data, args.steps)
    ratio = ours["real_tokens_per_s"] / base["real_tokens_per_s"]
    rows = "\n".join(
        f"| {r['mode']} | {r['steps']:.0f} | {r['real_tokens_per_s']:.1f} | "
        f"{r['label_tokens_per_s']:.1f} | {r['peak_rss_gib']:.2f} |"
        for r in (ours, base)
    )
    args.out.write_text(f"""# Benchmarks

Measured by `make bench` ({datetime.now(UTC):%Y-%m-%d}, {platform.machine()},
{_cores()} cores, Python {platform.python_version()}). Numbers come from one run on a shared
machine; compare the ratio, which both sides share, rather than absolute speeds.

## Training throughput: Scaler Wizard's loop vs a plain PEFT loop

SmolLM2-135M-Instruct (embedded), LoRA r16 on all linear layers, float32 on CPU,
`{args.data.name}`, {args.steps} optimizer steps each, each in its own process.
*plain-peft* is the loop most users write: one padded batch of records per step and
`model(input_ids, attention_mask, labels)` with full logits. *scaler-wizard* packs records into
512-token rows with positions reset per record and computes the loss on label tokens only, in
chunks. Both see the same records per step on average.

| loop | steps | real tokens/s | label tokens/s | peak RSS GiB |
|---|---|---|---|---|
{rows}

Speed ratio (real tokens/s, scaler-wizard / plain-peft): **{ratio:.2f}×**.
""")
    print(args.out.read_text())


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
