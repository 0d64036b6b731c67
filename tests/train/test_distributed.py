"""Two CPU processes (gloo) follow the same loss curve as one process with the same global batch,
whether each holds the whole model (ddp) or a shard of it (fsdp, DeepSpeed ZeRO-2/3); sharded,
also with gradient checkpointing, distillation and prefix tuning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("distributed_worker.py")


def train(out: Path, batch: int, accum: int, processes: int = 1, *more: str) -> dict[str, Any]:
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
        *more,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two micro-batches of 2 rows in one process: the same global batch."""
    return train(tmp_path_factory.mktemp("one") / "out.json", batch=2, accum=2)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Micro-batch 2 on each of two processes: a global batch of 4 rows per step."""
    return train(tmp_path_factory.mktemp("two") / "out.json", batch=2, accum=1, processes=2)


def losses(result: dict[str, Any]) -> list[float]:
    return [loss for _, loss in result["losses"]]


# DeepSpeed reduces, clips and steps flat fp32 partitions: gradients differ from one process's
# in the last bits, and six Adam steps at lr 1e-2 carry that to ~1e-5 on weights of ~0.1.
ZERO_WEIGHTS = 3e-5


def assert_same_training(
    got: dict[str, Any], expected: dict[str, Any], weights: float = 1e-5
) -> None:
    """The loss curve and every trainable weight of `expected`, to float tolerance (`weights`:
    the absolute tolerance on a weight)."""
    assert losses(got) == pytest.approx(losses(expected), rel=1e-5)
    for name, values in expected["weights"].items():
        assert got["weights"][name] == pytest.approx(values, abs=weights), name


def test_two_processes_match_one_with_the_same_global_batch(
    one_process: dict[str, Any], two_processes: dict[str, Any]
) -> None:
    one = one_process
    assert len(losses(one)) == 6 and losses(one)[-1] < losses(one)[0]  # it learns
    assert two_processes["held"] == []  # ddp: nothing sharded
    assert_same_training(two_processes, one)
    # Rank 0 writes checkpoints; the others wait for it instead of racing it.
    assert two_processes["checkpoints"] == one["checkpoints"] == ["step-000003"]


def test_a_different_global_batch_gives_a_different_curve(
    tmp_path: Path, two_processes: dict[str, Any]
) -> None:
    """The comparison above can fail: two processes at batch 2 are not one process at batch 2."""
    one = train(tmp_path / "one.json", batch=2, accum=1)
    assert losses(two_processes) != pytest.approx(losses(one), rel=1e-5)


def test_sharded_processes_match_one_and_resume_from_their_checkpoint(
    tmp_path: Path, one_process: dict[str, Any]
) -> None:
    """train.parallel: fsdp: each process holds half the model, and the numbers are the same as
    one process's: losses, clipped gradient norms, weights. The checkpoint it gathers resumes
    (sharded again) to the same weights, and afterwards rank 0 runs the model alone."""
    two = train(tmp_path / "fsdp.json", 2, 1, 2, "--parallel", "fsdp", "--resume")
    assert two["held"] == [0.5, 0.5]  # sharded, in the run and in the resumed one
    assert losses(two) == pytest.approx(losses(one_process), rel=1e-5)
    norms = one_process["grad_norms"]
    assert max(norms) > 0.3 > min(norms)  # some steps were clipped, some not
    assert two["grad_norms"] == pytest.approx(norms, rel=1e-5)
    for name, values in one_process["weights"].items():
        assert two["weights"][name] == pytest.approx(values, abs=1e-5), name
        assert two["resumed"][name] == pytest.approx(values, abs=1e-5), name
    assert two["checkpoints"] == ["step-000003"]
    assert two["hooks_left"] == []


def test_sharded_gradients_only_match_one_process(
    tmp_path: Path, one_process: dict[str, Any]
) -> None:
    """train.parallel: fsdp_grad_op (layers stay gathered from forward to backward)."""
    two = train(tmp_path / "grad-op.json", 2, 1, 2, "--parallel", "fsdp_grad_op")
    assert two["held"] == [0.5]  # each process holds half the model
    assert_same_training(two, one_process)
    assert two["hooks_left"] == []


def test_gradient_checkpointing_runs_sharded_and_matches_one_process(
    tmp_path: Path, one_process: dict[str, Any]
) -> None:
    """train.gradient_checkpointing under fsdp: each layer recomputes in backward (gathered
    again for it), and the numbers are those of one process without checkpointing."""
    two = train(tmp_path / "gc.json", 2, 1, 2, "--parallel", "fsdp", "--gradient-checkpointing")
    assert two["held"] == [0.5]
    assert one_process["layer_calls"] == 6 * 2  # 6 steps x 2 micro-batches, computed once
    assert two["layer_calls"] == 6 * 1 * 2  # 6 steps x 1 micro-batch, computed twice
    assert_same_training(two, one_process)
    assert two["hooks_left"] == []


def test_distillation_runs_sharded_and_matches_one_process(
    tmp_path: Path, one_process: dict[str, Any]
) -> None:
    """train.distill under fsdp: the student is sharded, the frozen teacher whole in every
    process; LM and KD losses and the weights are one process's."""
    one = train(tmp_path / "one.json", 2, 2, 1, "--distill")
    two = train(tmp_path / "two.json", 2, 1, 2, "--parallel", "fsdp", "--distill")
    assert two["held"] == [0.5]
    kd = [value for _, value in one["distill_losses"]]
    assert len(kd) == 6 and min(kd) > 0
    assert losses(one) != pytest.approx(losses(one_process), rel=1e-5)  # the teacher counts
    assert_same_training(two, one)
    assert [v for _, v in two["distill_losses"]] == pytest.approx(kd, rel=1e-5)
    assert two["hooks_left"] == []


def test_prefix_tuning_runs_sharded_and_matches_one_process(tmp_path: Path) -> None:
    """Prefix tuning under fsdp: the prefix (the only trainable tensor, in the root unit) is
    sharded and gathered for each loss computation; it learns what one process learns."""
    one = train(tmp_path / "one.json", 2, 2, 1, "--prefix")
    two = train(tmp_path / "two.json", 2, 1, 2, "--parallel", "fsdp", "--prefix")
    assert list(one["weights"]) == ["prompt_encoder.default.embedding.weight"]
    assert one["moved"] > 1e-3  # it trains
    assert two["held"] == [pytest.approx(0.5, abs=0.01)]
    assert_same_training(two, one)
    assert two["hooks_left"] == []


@pytest.mark.parametrize(
    ("mode", "held", "more"),
    [
        # parameters whole, half the Adam state on each process, which it keeps in RAM
        ("zero2", [1.0, 0.5], ["--offload", "optimizer"]),
        # half the parameters too; checkpointed layers recompute in backward
        ("zero3", [0.5, 0.5], ["--gradient-checkpointing"]),
    ],
)
def test_deepspeed_processes_match_one_and_resume_from_their_checkpoint(
    tmp_path: Path, one_process: dict[str, Any], mode: str, held: list[float], more: list[str]
) -> None:
    """train.parallel: zero2/zero3: DeepSpeed's engine runs backward, clipping and the step;
    losses, gradient norms and weights are one process's. The checkpoint (gathered into the
    loop's format) resumes a new engine to the same weights; afterwards DeepSpeed has left the
    model and rank 0 runs it alone."""
    two = train(tmp_path / f"{mode}.json", 2, 1, 2, "--parallel", mode, "--resume", *more)
    assert two["held"] == held * 2  # in the run and in the resumed one
    assert two["offloaded"] == [[mode == "zero2", False]] * 2
    assert_same_training(two, one_process, weights=ZERO_WEIGHTS)
    assert two["grad_norms"] == pytest.approx(one_process["grad_norms"], rel=1e-5)
    for name, values in one_process["weights"].items():
        assert two["resumed"][name] == pytest.approx(values, abs=ZERO_WEIGHTS), name
    assert two["checkpoints"] == ["step-000003"]
    assert two["hooks_left"] == []
    if mode == "zero3":
        assert two["layer_calls"] == 6 * 1 * 2  # 6 steps x 1 micro-batch, computed twice


def test_distillation_runs_under_zero3_and_matches_one_process(tmp_path: Path) -> None:
    """train.distill under ZeRO-3: the student is partitioned, the teacher whole."""
    one = train(tmp_path / "one.json", 2, 2, 1, "--distill")
    two = train(tmp_path / "two.json", 2, 1, 2, "--parallel", "zero3", "--distill")
    assert two["held"] == [0.5, 0.5]
    assert_same_training(two, one, weights=ZERO_WEIGHTS)
    kd = [value for _, value in one["distill_losses"]]
    assert [v for _, v in two["distill_losses"]] == pytest.approx(kd, rel=1e-5)
    assert two["hooks_left"] == []


def test_prefix_tuning_runs_under_zero3_and_matches_one_process(tmp_path: Path) -> None:
    """Prefix tuning under ZeRO-3: the prefix is partitioned and gathered when PEFT's prompt
    encoder computes it."""
    one = train(tmp_path / "one.json", 2, 2, 1, "--prefix")
    two = train(tmp_path / "two.json", 2, 1, 2, "--parallel", "zero3", "--prefix")
    assert one["moved"] > 1e-3
    assert two["held"] == [pytest.approx(0.5, abs=0.01)] * 2
    assert_same_training(two, one, weights=ZERO_WEIGHTS)
    assert two["hooks_left"] == []


def test_zero_offload_runs_on_one_process_and_matches_plain_training(
    tmp_path: Path, one_process: dict[str, Any]
) -> None:
    """train.offload: parameters on one process (ZeRO-Offload on one GPU): DeepSpeed runs even
    without a launcher, keeps weights and optimizer state in RAM, and learns what plain
    training learns; it resumes from its checkpoint."""
    one = train(
        tmp_path / "offload.json", 2, 2, 1, "--parallel", "zero3", "--offload", "parameters",
        "--resume",
    )  # fmt: skip
    assert one["offloaded"] == [[True, True]] * 2
    assert_same_training(one, one_process, weights=ZERO_WEIGHTS)
    for name, values in one_process["weights"].items():
        assert one["resumed"][name] == pytest.approx(values, abs=ZERO_WEIGHTS), name
    assert one["hooks_left"] == []
