"""Streaming data vs in memory: peak memory and time of `prepare_data` as the data grows.

The instruction data (`sft_stdlib.jsonl`) is copied N times with each copy's questions made
distinct, for a few N. Each (size, mode) runs in its own process with the embedded model's
tokenizer; peak RSS is measured above the process's RSS after loading the tokenizer (the
import and tokenizer cost is the same for both modes). The baseline is the in-memory path in
the same run. Writes docs/BENCHMARKS-data.md.

    python benchmarks/data_streaming.py [--copies 10,40,120] [--report-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sft_stdlib.jsonl"
OUT = ROOT / "docs" / "BENCHMARKS-data.md"
RESULTS = ROOT / "docs" / "bench-data" / "data_streaming.json"
SEQ_LENGTH = 1024


def write_copies(source: Path, copies: int, target: Path) -> int:
    """`copies` passes over the source, each record's first turn tagged with its pass."""
    lines = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    with target.open("w", encoding="utf-8") as handle:
        for copy in range(copies):
            for record in lines:
                messages = [dict(m) for m in record["messages"]]
                messages[0]["content"] = f"[{copy}] {messages[0]['content']}"
                handle.write(json.dumps({"messages": messages}) + "\n")
    return copies * len(lines)


def child(mode: str, data: Path, cache: Path) -> dict[str, Any]:
    from scaler_wizard.data import prepare_data
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import DataSpec, TokenizerSpec

    tokenizer, _ = load_tokenizer(convert_gguf(locate_embedded_gguf()), TokenizerSpec())
    setup = _status_gib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS restarts from here
    spec: dict[str, Any] = {
        "train": str(data),
        "seq_length": SEQ_LENGTH,
        "transforms": [{"name": "dedup_exact"}],
    }
    if mode == "streaming":
        spec["streaming"] = {"cache_dir": str(cache)}
    started = time.perf_counter()
    prepared = prepare_data(DataSpec(**spec), tokenizer)
    rows = len(prepared.train_rows)
    seconds = time.perf_counter() - started
    peak = _status_gib("VmHWM")
    return {"seconds": seconds, "setup_gib": setup, "peak_gib": peak, "rows": rows}


def _status_gib(field: str) -> float:
    """A memory line of /proc/self/status (kB) in GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(mode: str, data: Path, cache: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--data", str(data)]
    command += ["--cache", str(cache)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Streaming data: memory and time",
        "",
        "Measured by `python benchmarks/data_streaming.py` on this machine (2 CPU cores, shared",
        "with other work: seconds are indicative). `prepare_data` on copies of",
        "`sft_stdlib.jsonl` (each copy's questions made distinct), `dedup_exact`, seq_length",
        f"{SEQ_LENGTH}, the embedded model's tokenizer and chat template. Each cell is its own",
        "process; memory is peak RSS while preparing, above the RSS after loading the",
        "tokenizer. Baseline: the in-memory path (`data.streaming` off) on the same file in",
        "the same run.",
        "",
        "| records | file MiB | in memory: MiB, s | streaming: MiB, s | memory ratio "
        "| time ratio | rows (in memory / streaming) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        eager, stream = r["memory"], r["streaming"]
        grow_eager = (eager["peak_gib"] - eager["setup_gib"]) * 1024
        grow_stream = (stream["peak_gib"] - stream["setup_gib"]) * 1024
        ratio = grow_stream / grow_eager if grow_eager > 0 else float("nan")
        lines.append(
            f"| {r['records']:,} | {r['mib']:.0f} | {grow_eager:.0f}, {eager['seconds']:.0f} | "
            f"{grow_stream:.0f}, {stream['seconds']:.0f} | {ratio:.2f}× | "
            f"{stream['seconds'] / eager['seconds']:.2f}× | "
            f"{eager['rows']:,} / {stream['rows']:,} |"
        )
    lines += [
        "",
        "In memory, peak memory grows with the data (records, examples and rows are all held);",
        "streamed, it stays near one shard's worth (10,000 records) plus the dedup set, and the",
        "rows live in memory-mapped files under the data cache. Streaming packs each shard on",
        "its own, which costs a few more rows than packing everything at once (last column).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", default="10,40,120", help="Sizes, in copies of the data.")
    parser.add_argument("--child", choices=["memory", "streaming"])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--report-only", action="store_true", help="Rewrite the page only.")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.cache)))
        return
    if args.report_only:
        OUT.write_text(render(json.loads(RESULTS.read_text())))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for copies in (int(c) for c in args.copies.split(",")):
            data = Path(tmp) / f"data-{copies}.jsonl"
            records = write_copies(DATA, copies, data)
            row: dict[str, Any] = {"records": records, "mib": data.stat().st_size / 2**20}
            for mode in ("memory", "streaming"):
                row[mode] = measure(mode, data, Path(tmp) / "cache")
                print(copies, mode, row[mode], flush=True)
            if row["memory"]["rows"] != row["streaming"]["rows"]:
                print(f"note: {row['memory']['rows']} vs {row['streaming']['rows']} rows")
            results.append(row)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    OUT.write_text(render(results))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
