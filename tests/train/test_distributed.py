"""Two CPU processes (gloo) follow the same loss curve as one process with the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("distributed_worker.py")


def train(out: Path, batch: int, accum: int, processes: int = 1) -> dict[str, Any]:
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [
        *launcher,
        str(WORKER),
        "--batch",
        str(batch),
        "--accum",
        str(accum),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Micro-batch 2 on each of two processes: a global batch of 4 rows per step."""
    return train(tmp_path_factory.mktemp("two") / "out.json", batch=2, accum=1, processes=2)


def losses(result: dict[str, Any]) -> list[float]:
    return [loss for _, loss in result["losses"]]


def test_two_processes_match_one_with_the_same_global_batch(
    tmp_path: Path, two_processes: dict[str, Any]
) -> None:
    one = train(tmp_path / "one.json", batch=2, accum=2)
    assert len(losses(one)) == 6 and losses(one)[-1] < losses(one)[0]  # it learns
    assert losses(two_processes) == pytest.approx(losses(one), rel=1e-5)
    for name, values in one["weights"].items():
        assert two_processes["weights"][name] == pytest.approx(values, abs=1e-5), name
    # Rank 0 writes checkpoints; the others wait for it instead of racing it.
    assert two_processes["checkpoints"] == one["checkpoints"] == ["step-000003"]


def test_a_different_global_batch_gives_a_different_curve(
    tmp_path: Path, two_processes: dict[str, Any]
) -> None:
    """The comparison above can fail: two processes at batch 2 are not one process at batch 2."""
    one = train(tmp_path / "one.json", batch=2, accum=1)
    assert losses(two_processes) != pytest.approx(losses(one), rel=1e-5)
