"""`make bench`: measure Scaler Wizard's training loop against TRL's SFTTrainer in one run, and
write docs/BENCHMARKS.md (`benchmark_report.py` turns the measurements into the page).

Every training mode runs in its own process (peak RSS is per process). The modes run side by
side and take turns, one timed step at a time, so that load from elsewhere on a shared machine
falls on all of them alike. This CPU's float32 matmul peak is measured in the same run, before
and after the training modes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark_report import render

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sft_stdlib.jsonl"
DEFAULT_STEPS = 3
# Untimed steps first in every mode: a process's first step also pays for first-touch memory
# and allocator growth, which a real run pays once.
DEFAULT_WARMUP_STEPS = 1

# The rows, in the order they run: label, train_throughput.py arguments.
RUNS: list[tuple[str, list[str]]] = [
    ("TRL padded", ["--mode", "trl-padded"]),
    ("TRL packing=True", ["--mode", "trl-packed"]),
    ("TRL padding_free=True", ["--mode", "trl-padding-free"]),
    ("Scaler Wizard", ["--mode", "scaler-wizard"]),
    ("Scaler Wizard, 512-token passes", ["--mode", "scaler-wizard", "--micro-batch-tokens", "512"]),
    ("Scaler Wizard, MALLOC_MMAP_THRESHOLD_=131072", ["--mode", "scaler-wizard"]),
    ("Scaler Wizard, 384-token passes", ["--mode", "scaler-wizard", "--micro-batch-tokens", "384"]),
    ("Scaler Wizard, checkpointing", ["--mode", "scaler-wizard", "--gradient-checkpointing"]),
]
# Environment for a row: glibc keeps freed activations resident; this row shows what making it
# hand large blocks back on free costs.
RUN_ENV = {"Scaler Wizard, MALLOC_MMAP_THRESHOLD_=131072": {"MALLOC_MMAP_THRESHOLD_": "131072"}}
# The other modes run side by side, all alive at once (their peaks add up to about 18 GiB); TRL
# packing (9 GiB, a minute a step) runs alone after them.
ALONE = {"TRL packing=True"}


def run_json(script: str, *arguments: str) -> dict[str, Any]:
    """Run a benchmark script in a fresh process; its last stdout line is a JSON object."""
    command = [sys.executable, str(BENCH / script), *arguments]
    out = subprocess.run(command, capture_output=True, text=True, cwd=BENCH)
    if out.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


class Worker:
    """One training mode in its own process (`train_throughput.py --gated`): set up and warmed
    up, it waits before each timed step until told to go."""

    def __init__(self, label: str, arguments: list[str]) -> None:
        self.label = label
        self.command = [sys.executable, str(BENCH / "train_throughput.py"), *arguments, "--gated"]
        # kept open as long as the worker: read only if it fails
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            cwd=BENCH,
            env={**os.environ, **RUN_ENV.get(label, {})},
        )

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def wait(self) -> dict[str, Any] | None:
        """Until the process is idle at its next gate (None), or has finished: its result."""
        assert self.process.stdout is not None
        last = ""
        for line in self.process.stdout:
            if line.strip() == "gate":
                return None
            last = line
        if self.process.wait() != 0:
            self.stderr.seek(0)
            sys.exit(f"{' '.join(self.command)} failed:\n{self.stderr.read()[-4000:]}")
        result: dict[str, Any] = json.loads(last)
        return result


def lockstep(runs: list[tuple[str, list[str]]], steps: int) -> dict[str, dict[str, Any]]:
    """Run the modes side by side, one timed step at a time in turn (the order rotating each
    step), so that load from elsewhere falls on all of them alike; returns each one's result.
    Processes start one after another, each set up and warmed up before the next starts."""
    workers = []
    for label, arguments in runs:
        print(f"setting up: {label} ...", file=sys.stderr, flush=True)
        workers.append(Worker(label, arguments))
        if workers[-1].wait() is not None:
            sys.exit(f"{label} finished before its first timed step")
    results: dict[str, dict[str, Any]] = {}
    for step in range(steps):
        print(f"timed step {step + 1} of {steps}, every mode ...", file=sys.stderr, flush=True)
        turn = step % len(workers)
        for worker in workers[turn:] + workers[:turn]:
            worker.go()
            result = worker.wait()
            if (result is None) != (step < steps - 1):
                sys.exit(f"{worker.label}: expected {steps} timed steps")
            if result is not None:
                results[worker.label] = {"label": worker.label, **result}
    return results


def measure_all(
    data: Path, steps: int, save: Path | None, warmup_steps: int = DEFAULT_WARMUP_STEPS
) -> dict[str, Any]:
    """All measurements; with `save`, the partial results are written after each group."""
    started = time.perf_counter()
    measured: dict[str, Any] = {
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "machine": _machine(),
        "load_average": [os.getloadavg()[0]],
        "data": data.name,
        "steps": steps,
        "warmup_steps": warmup_steps,
        "lockstep": True,
        "alone": sorted(ALONE),
        "peaks": [run_json("matmul_peak.py")],
        "runs": [],
    }
    print("measuring activation memory ...", file=sys.stderr, flush=True)
    measured["activations"] = run_json("activation_memory.py", "--data", str(data))
    print("profiling one step ...", file=sys.stderr, flush=True)
    measured["profile"] = run_json("step_profile.py", "--data", str(data))
    common = ["--data", str(data), "--steps", str(steps), "--warmup-steps", str(warmup_steps)]
    together = [(label, [*arguments, *common]) for label, arguments in RUNS if label not in ALONE]
    groups = [together, *([(label, [*a, *common])] for label, a in RUNS if label in ALONE)]
    results: dict[str, dict[str, Any]] = {}
    for group in groups:
        results |= lockstep(group, steps)
        measured["runs"] = [results[label] for label, _ in RUNS if label in results]
        if save is not None:
            save.write_text(json.dumps(measured, indent=1))
    measured["peaks"].append(run_json("matmul_peak.py"))
    measured["load_average"].append(os.getloadavg()[0])
    measured["wall_s"] = time.perf_counter() - started
    return measured


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    with open("/proc/cpuinfo") as info:  # platform.processor() is often empty on Linux
        cpu = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), cpu)
    with open("/proc/meminfo") as info:
        mem_kib = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
    versions = {p: metadata.version(p) for p in ("torch", "transformers", "peft", "trl")}
    return {
        "arch": platform.machine(),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": mem_kib / 2**20,
        "python": platform.python_version(),
        "versions": versions,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument(
        "--warmup-steps",
        type=int,
        default=DEFAULT_WARMUP_STEPS,
        help="untimed steps before the timed ones, in every mode",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--save", type=Path, help="also write the raw measurements here")
    parser.add_argument("--load", type=Path, help="re-render the page from saved measurements")
    args = parser.parse_args()
    if args.load is not None:
        measured = json.loads(args.load.read_text())
    else:
        if not args.data.is_file():
            sys.exit(f"benchmark data not found: {args.data} (pass --data file.jsonl)")
        if importlib.util.find_spec("trl") is None:
            sys.exit("the TRL baselines need trl: pip install -e '.[bench]'")
        measured = measure_all(args.data.resolve(), args.steps, args.save, args.warmup_steps)
    if args.save is not None:
        args.save.write_text(json.dumps(measured, indent=1))
    args.out.write_text(render(measured))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
