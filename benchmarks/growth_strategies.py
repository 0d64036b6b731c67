"""Every growth strategy on the same data and token budget: held-out loss, parameters, speed.

Each strategy runs as a real `scaler-wizard grow` (the `balanced` template, context unchanged,
passkey off) in its own process and workspace; results are read from the run manifests and
written to docs/BENCHMARKS-growth.md. Usage: `python benchmarks/growth_strategies.py [--steps N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sft_stdlib.jsonl"
STRATEGIES: dict[str, str] = {
    "lora r8": "[{strategy: lora, options: {r: 8}}]",
    "lora r16": "[{strategy: lora, options: {r: 16}}]",
    "dora r8": "[{strategy: lora, options: {r: 8, use_dora: true}}]",
    "rslora r16": "[{strategy: lora, options: {r: 16, use_rslora: true}}]",
    "lora+ r8": "[{strategy: lora, options: {r: 8, lora_plus_ratio: 16}}]",
    "pissa r8": "[{strategy: lora, options: {r: 8, init: pissa}}]",
    "adalora 12→4": "[{strategy: adalora, options: {init_r: 12, target_r: 4}}]",
    "ia3": "[{strategy: ia3}]",
    "block expansion +2": "[{strategy: block_expansion, options: {new_blocks: 2}}]",
}


def run_one(growth: str, data: Path, steps: int, home: Path) -> dict[str, Any]:
    overrides = [
        f"data.train={data}",
        f"train.steps={steps}",
        "evaluate.passkey=null",
        "context.engine=none",
        "context.scale=null",
        f"growth={growth}",
        "contracts.max_eval_loss_increase=null",
        "export.merged=false",
    ]
    command = [sys.executable, "-m", "scaler_wizard.cli", "grow", "balanced", "--quiet"]
    for item in overrides:
        command += ["--set", item]
    env = {**os.environ, "SCALER_WIZARD_HOME": str(home)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    runs = sorted((home / "runs").iterdir()) if (home / "runs").is_dir() else []
    if done.returncode != 0 or not runs:
        return {"error": (done.stderr or done.stdout)[-400:]}
    manifest: dict[str, Any] = json.loads((runs[-1] / "manifest.json").read_text())
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--only", nargs="*", help="strategy labels to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS-growth.md")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"benchmark data not found: {args.data} (pass --data file.jsonl)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "shared-cache"
        for label, growth in STRATEGIES.items():
            if args.only and label not in args.only:
                continue
            home = Path(tmp) / label.replace(" ", "_")
            home.mkdir()
            if cache.exists():  # reuse the converted embedded model across runs
                (home / "models").symlink_to(cache)
            result = run_one(growth, args.data, args.steps, home)
            if not cache.exists() and (home / "models").is_dir():
                (home / "models").rename(cache)
                (home / "models").symlink_to(cache)
            rows.append(_row(label, result))
            print(rows[-1], flush=True)
    _write(args.out, rows, args.steps, args.data)


def _row(label: str, manifest: dict[str, Any]) -> str:
    if "error" in manifest:
        return f"| {label} | failed: {manifest['error'].splitlines()[-1][:80]} | | | | | |"
    base = manifest["metrics"]["base"]["eval_loss"]
    grown = manifest["metrics"]["grown"]["eval_loss"]
    growth = manifest["growth"][-1]
    details = growth.get("details", {})
    effective = details.get("effective_parameters", growth["parameters_after"])
    train = manifest["train"]
    return (
        f"| {label} | {grown:.4f} ({grown - base:+.4f}) | {growth['trainable']:,} | "
        f"{growth['parameters_after']:,} | {effective:,} | {train['tokens_per_s']:.0f} | "
        f"{train['duration_s']:.0f} |"
    )


def _write(out: Path, rows: list[str], steps: int, data: Path) -> None:
    out.write_text(f"""# Growth strategies on the same budget

Measured by `python benchmarks/growth_strategies.py --steps {steps}` on {datetime.now(UTC):%Y-%m-%d}
(2 CPU cores). Embedded SmolLM2-135M-Instruct, `{data.name}`, each strategy trained for {steps}
steps × 2 rows × 512 tokens with the `balanced` template's settings (learning rate 5e-4,
context unchanged); held-out loss on the same 48 held-out records (base model: the first number
minus the change). One run each on a shared machine: read differences under ~0.02 as noise.

| strategy | held-out loss (Δ base) | trainable | total params | effective | tok/s | train s |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
""")
    print(out.read_text())


if __name__ == "__main__":
    main()
