"""`scaler-wizard grow` under a launcher: two CPU processes (gloo) make one run, the same run one
process makes with the same global batch; rank 0 alone writes it, and the processes stop,
pause, resume and fail together."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from scaler_wizard.cli import app
from scaler_wizard.telemetry.jsonl_sink import read_events
from scaler_wizard.telemetry.validate import validate_event_log
from tiny_models import instruction_records

TIMEOUT_S = 240


def grow_args(model_dir: Path, data: Path, steps: int, accum: int, *more: str) -> list[str]:
    """A tiny run: micro-batches of 2 rows, `accum` of them per step and process. No dropout
    and one thread per process, so one process and two compute the same numbers."""
    args = ["grow", "tiny-cpu", "--quiet"]
    for item in (
        f"model.source={model_dir}",
        f"data.train={data}",
        f"train.steps={steps}",
        f"train.grad_accum_steps={accum}",
        "train.learning_rate=0.01",
        "train.threads=1",
        "evaluate.passkey=null",
        "growth.0.options.dropout=0",
        *more,
    ):
        args += ["--set", item]
    return args


def one_process(home: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCALER_WIZARD_HOME", str(home))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (run,) = (home / "runs").iterdir()
    return run


def environment(home: Path) -> dict[str, str]:
    return {**os.environ, "SCALER_WIZARD_HOME": str(home), "OMP_NUM_THREADS": "1"}


def torchrun(home: Path, logs: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """`torchrun --nproc_per_node 2 -m scaler_wizard.cli ...`; each rank's output in `logs`."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["--log-dir", str(logs), "--redirects", "3", "-m", "scaler_wizard.cli", *args]
    return subprocess.run(
        command, env=environment(home), capture_output=True, text=True, timeout=TIMEOUT_S
    )


def rank_output(logs: Path, rank: int) -> tuple[str, str]:
    (folder,) = logs.glob(f"*/attempt_0/{rank}")
    return (folder / "stdout.log").read_text(), (folder / "stderr.log").read_text()


def start_ranks(home: Path, args: list[str]) -> list[subprocess.Popen[str]]:
    """Two processes with the variables a launcher sets, but no launcher agent around them:
    each one's exit code is visible, and a signal reaches only the process it is sent to."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    processes = []
    for rank in range(2):
        env = environment(home) | {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": "2",
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": "2",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "scaler_wizard.cli", *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return processes


def quiet(stdout: str, stderr: str) -> bool:
    """Nothing from the program itself (the C++ runtime's own log lines aside)."""
    lines = [line for line in (stdout + stderr).splitlines() if line.strip()]
    return all(line.startswith(("[W", "[I")) for line in lines)


def adapter(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "adapter" / "adapter_model.safetensors"))


def assert_same_adapter(expected: Path, got: Path, atol: float = 1e-5) -> None:
    want, have = adapter(expected), adapter(got)
    assert want.keys() == have.keys()
    assert any(v.abs().sum() > 0 for k, v in want.items() if "lora_B" in k)  # it trained
    for name, value in want.items():
        assert torch.allclose(value, have[name], atol=atol), name


def event_types(run: Path) -> list[str]:
    check = validate_event_log(run / "events.jsonl")
    assert check.ok, check.problems
    return [event.type for event in read_events(run / "events.jsonl")]


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """Forty different chats: were they the same, every batch would give the same gradient, and
    a wrong global batch or a share trained twice or skipped would give the same adapter."""
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in instruction_records(40)))
    return path


def test_two_processes_make_one_run_equal_to_one_process(
    tmp_path: Path, tiny_model_dir: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One process, 2 micro-batches of 2 rows per step = two processes, 1 micro-batch each.
    reference = one_process(tmp_path / "one", grow_args(tiny_model_dir, data, 4, 2), monkeypatch)
    home, logs = tmp_path / "two", tmp_path / "logs"
    done = torchrun(home, logs, grow_args(tiny_model_dir, data, 4, 1, "train.checkpoint_every=2"))
    assert done.returncode == 0, done.stderr[-3000:]  # torchrun: every process exited 0

    (run,) = (home / "runs").iterdir()  # rank 0 alone created a folder
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-000002"]
    types = event_types(run)
    assert types.count("RunStarted") == types.count("RunFinished") == 1
    assert types.count("StepLogged") == 4  # one voice: rank 1 logged nothing
    assert_same_adapter(reference, run)
    assert "run folder" in rank_output(logs, 0)[0]  # rank 0 speaks for the run...
    assert quiet(*rank_output(logs, 1))  # ...and the other process says nothing


def test_sharded_processes_make_the_same_run_and_rank_0_evaluates_and_exports(
    tmp_path: Path, tiny_model_dir: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """train.parallel: fsdp: the same adapter as one process; training leaves the sharding, so
    rank 0 evaluates and exports the grown model alone."""
    reference = one_process(tmp_path / "one", grow_args(tiny_model_dir, data, 4, 2), monkeypatch)
    home, logs = tmp_path / "two", tmp_path / "logs"
    args = grow_args(tiny_model_dir, data, 4, 1, "train.checkpoint_every=2", "train.parallel=fsdp")
    done = torchrun(home, logs, args)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = (home / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert set(manifest["metrics"]) >= {"base", "grown"}
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-000002"]
    assert_same_adapter(reference, run)
    assert quiet(*rank_output(logs, 1))


ACCELERATE_CONFIGS = Path(__file__).resolve().parents[2] / "recipes" / "accelerate"


@pytest.mark.parametrize(("config", "parallel"), [("fsdp.yaml", "fsdp"), ("zero3.yaml", "zero3")])
def test_accelerate_launches_the_shipped_sharding_configs_on_cpus(
    config: str,
    parallel: str,
    tmp_path: Path,
    tiny_model_dir: Path,
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`accelerate launch --config_file recipes/accelerate/fsdp.yaml` (or zero3.yaml) on a
    machine without GPUs: two gloo processes under torchrun (`--cpu` would start one plain
    process instead). accelerate sets ACCELERATE_USE_FSDP (ACCELERATE_USE_DEEPSPEED and the
    ZeRO stage), which the loop runs sharded, with one process's result; training leaves the
    sharding, so rank 0 evaluates and exports alone."""
    reference = one_process(tmp_path / "one", grow_args(tiny_model_dir, data, 2, 2), monkeypatch)
    home = tmp_path / "two"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    command += [str(ACCELERATE_CONFIGS / config), "--num_processes", "2"]
    command += ["-m", "scaler_wizard.cli", *grow_args(tiny_model_dir, data, 2, 1)]
    env = environment(home) | {"CUDA_VISIBLE_DEVICES": ""}  # this test is about CPUs
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = (home / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    # The recipe says ddp; the run records the sharding the launch selected.
    assert manifest["recipe"]["train"]["parallel"] == "ddp"
    assert (manifest["train"]["processes"], manifest["train"]["parallel"]) == (2, parallel)
    assert set(manifest["metrics"]) >= {"base", "grown"}
    assert_same_adapter(reference, run, atol=3e-5 if parallel.startswith("zero") else 1e-5)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("ddp.yaml", "MULTI_GPU"), ("fsdp.yaml", "FSDP"), ("zero2.yaml", 2), ("zero3.yaml", 3)],
)
def test_the_shipped_accelerate_configs_parse(name: str, kind: str | int) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ACCELERATE_CONFIGS / name))
    if isinstance(kind, int):
        assert config.distributed_type == "DEEPSPEED"
        assert config.deepspeed_config["zero_stage"] == kind
    else:
        assert config.distributed_type == kind


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_a_signal_to_one_process_pauses_both_and_torchrun_resumes(
    parallel: str,
    tmp_path: Path,
    tiny_model_dir: Path,
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sharded or not, the processes stop after the same step; fsdp gathers the checkpoint and
    leaves the sharding on the way out, and the resumed run shards it again."""
    steps = 16
    reference = one_process(
        tmp_path / "one", grow_args(tiny_model_dir, data, steps, 2), monkeypatch
    )
    home = tmp_path / "two"
    args = grow_args(
        tiny_model_dir, data, steps, 1, "train.checkpoint_every=1", f"train.parallel={parallel}"
    )
    ranks = start_ranks(home, args)
    deadline = time.monotonic() + TIMEOUT_S
    while not list(home.glob("runs/*/checkpoints/step-000002")):
        assert time.monotonic() < deadline and ranks[0].poll() is None, ranks[0].communicate()
        time.sleep(0.005)
    ranks[1].send_signal(signal.SIGTERM)  # rank 1 only: the stop is agreed across processes
    outputs = [rank.communicate(timeout=TIMEOUT_S) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [3, 3], outputs  # both paused
    (run,) = (home / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "paused", outputs
    assert (manifest["train"]["processes"], manifest["train"]["parallel"]) == (2, parallel)
    step = manifest["paused_at_step"]
    assert 2 <= step < steps
    newest = sorted(p.name for p in (run / "checkpoints").iterdir())[-1]
    assert newest == f"step-{step:06d}"  # rank 0 saved where both stopped
    assert "--resume" in outputs[0][0] and quiet(*outputs[1])

    done = torchrun(home, tmp_path / "logs", ["grow", "--quiet", "--resume", run.name])
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["resumed_from"] == newest
    assert (manifest["train"]["processes"], manifest["train"]["parallel"]) == (2, parallel)
    assert_same_adapter(reference, run)  # as if never interrupted
    one = json.loads((reference / "manifest.json").read_text())["train"]
    assert (one["processes"], one["parallel"]) == (1, "ddp")
    types = event_types(run)
    assert types.count("RunStarted") == 2 and types.count("RunPaused") == 1
    assert types.count("RunFinished") == 1


def test_a_failure_on_rank_0_stops_both_with_its_exit_code(
    tmp_path: Path, tiny_model_dir: Path, data: Path
) -> None:
    """A contract only rank 0 checks fails: the other process stops too, with the same code."""
    home = tmp_path / "two"
    args = grow_args(tiny_model_dir, data, 2, 1, "contracts.max_eval_loss_increase=-100")
    ranks = start_ranks(home, args)
    outputs = [rank.communicate(timeout=TIMEOUT_S) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [1, 1], outputs
    assert "contracts failed" in outputs[0][1]
    assert quiet(*outputs[1])  # rank 0 reports it; the other process just stops
    (run,) = (home / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["failed_phase"] == "contracts"
    assert not (run / "adapter").exists()
    assert event_types(run).count("RunFailed") == 1


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ACCELERATE_USE_MEGATRON_LM", "true", "Megatron"),
        ("OMPI_COMM_WORLD_SIZE", "2", "MPI launch"),
    ],
)
def test_a_launch_the_loop_cannot_run_is_refused(
    variable: str, value: str, says: str, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Megatron launch is refused, not run unsharded (the message points to the loop's own
    sharding), and MPI processes (no WORLD_SIZE) are refused rather than each making a run
    of its own."""
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(app, ["grow", "tiny-cpu"])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and says in output, result.output
    assert "torchrun --nproc_per_node N" in output
    if variable.startswith("ACCELERATE"):
        assert "train.parallel: fsdp" in output
    assert not (isolated_home / "runs").exists()


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"ZERO_STAGE": "1"}, "zero_stage: 2 or 3"),
        ({"CONFIG_FILE": "ds.json"}, "deepspeed_config_file"),
        ({"OFFLOAD_OPTIMIZER_DEVICE": "nvme"}, "offloads to cpu or not at all"),
        ({"ZERO_STAGE": "2", "OFFLOAD_PARAM_DEVICE": "cpu"}, "use zero_stage: 3"),
    ],
)
def test_a_deepspeed_launch_the_loop_cannot_run_is_refused(
    settings: dict[str, str], says: str, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before anything is loaded, with what to set instead."""
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    for key, value in settings.items():
        monkeypatch.setenv(f"ACCELERATE_DEEPSPEED_{key}", value)
    result = CliRunner().invoke(app, ["grow", "tiny-cpu"])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and says in output, result.output
    assert not (isolated_home / "runs").exists()


def test_a_deepspeed_launch_selects_its_offload(monkeypatch: pytest.MonkeyPatch) -> None:
    from scaler_wizard.train.parallel import launched_offload

    assert launched_offload("optimizer") == "optimizer"  # no DeepSpeed launch: the recipe's
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "3")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE", "cpu")
    assert launched_offload("none") == "optimizer"
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE", "cpu")
    assert launched_offload("none") == "parameters"


def test_a_deepspeed_launch_selects_its_zero_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    from scaler_wizard.train.parallel import launched_mode

    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "3")
    assert launched_mode("ddp") == launched_mode("fsdp") == "zero3"
    monkeypatch.delenv("ACCELERATE_DEEPSPEED_ZERO_STAGE")
    assert launched_mode("ddp") == "zero2"  # accelerate's default stage
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED")
    assert launched_mode("zero3") == "zero3" and launched_mode("ddp") == "ddp"


def test_an_fsdp_launch_is_accepted_and_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """accelerate's FSDP launch is no longer refused: it selects the loop's own sharding."""
    from scaler_wizard.train.parallel import refuse_sharding, sharded

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    refuse_sharding()
    assert sharded("ddp") and sharded("fsdp")
    monkeypatch.delenv("ACCELERATE_USE_FSDP")
    assert not sharded("ddp") and sharded("fsdp")
