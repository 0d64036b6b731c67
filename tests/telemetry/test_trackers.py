"""Tracker sinks write what each tracker's own reader gives back: TensorBoard, MLflow, W&B."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import pytest
from collector import wait_until

from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import (
    EvalCompleted,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
)
from scaler_wizard.telemetry.trackers import (
    INSTALL_HINT,
    TrackerMissingError,
    params,
    require,
    scalars,
)

CONFIG = {"name": "demo", "train": {"steps": 4, "learning_rate": 0.001}, "growth": [{"r": 8}]}
LOSSES = {2: 3.0, 4: 2.5}


def step_logged(loss: float) -> StepLogged:
    return StepLogged(
        loss=loss,
        grad_norm=0.5,
        learning_rate=1e-3,
        tokens_per_s=100.0,
        memory_gib=1.5,
        eta_s=1.0,
        label_tokens=10,
    )


def play(sink: Any, run_id: str = "run-1", end: Any = None) -> None:
    """A short run on a real bus: start, two logged steps, an evaluation, the end."""
    bus = EventBus(run_id, [sink])
    bus.emit(RunStarted(recipe_name="demo", run_dir="/runs/x"))
    for step, loss in LOSSES.items():
        bus.step = step
        bus.emit(step_logged(loss))
    bus.emit(EvalCompleted(model="grown", metrics={"eval_perplexity": 9.5, "passkey": {"256": 1}}))
    bus.emit(end or RunFinished(status="completed", artifact_dir="/a", duration_s=1.0))
    bus.close()
    assert bus.sink_errors == 0


def event(kind: str, data: dict[str, Any]) -> Event:
    return Event(id="e", type=kind, run_id="r", seq=0, data=data)


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            "StepLogged",
            step_logged(2.0).model_dump(mode="json"),
            {
                "train/loss": 2.0,
                "train/learning_rate": 1e-3,
                "train/grad_norm": 0.5,
                "train/tokens_per_s": 100.0,
                "train/memory_gib": 1.5,
            },
        ),
        (  # non-finite (live) and null (replayed) values are left out
            "StepLogged",
            {"loss": math.nan, "grad_norm": None, "learning_rate": 0.1},
            {"train/learning_rate": 0.1},
        ),
        (  # nested metrics are flattened; text and flags are not scalars
            "EvalCompleted",
            {"model": "base", "metrics": {"eval_loss": 1.0, "passkey": {"512": 0.5}, "ok": True}},
            {"eval/base/eval_loss": 1.0, "eval/base/passkey/512": 0.5},
        ),
        ("PhaseStarted", {"phase": "train"}, {}),
    ],
)
def test_scalars(kind: str, data: dict[str, Any], expected: dict[str, float]) -> None:
    assert scalars(event(kind, data)) == expected


def test_params_flatten_the_recipe() -> None:
    assert params(CONFIG) == {
        "name": "demo",
        "train.steps": "4",
        "train.learning_rate": "0.001",
        "growth.0.r": "8",
    }


def test_a_missing_tracker_names_the_extra_to_install() -> None:
    with pytest.raises(TrackerMissingError, match="scaler-wizard\\[trackers\\]") as caught:
        require("no_such_tracker_package", "demo")
    assert INSTALL_HINT in str(caught.value)


def test_tensorboard_scalars_and_config_read_back(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from scaler_wizard.telemetry.trackers import TensorBoardSink

    play(TensorBoardSink(tmp_path / "tb", CONFIG))
    reader = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "tensors": 0})
    reader.Reload()
    assert [(s.step, s.value) for s in reader.Scalars("train/loss")] == list(LOSSES.items())
    assert [s.value for s in reader.Scalars("eval/grown/eval_perplexity")] == [9.5]
    assert "train/memory_gib" in reader.Tags()["scalars"]
    (config,) = reader.Tensors("config")
    text = config.tensor_proto.string_val[0].decode()
    assert "| train.learning_rate | 0.001 |" in text and "| run_id | run-1 |" in text


def test_mlflow_metrics_params_status_and_resume_read_back(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")  # the local sqlite store
    from mlflow.tracking import MlflowClient

    from scaler_wizard.telemetry.trackers import MlflowSink

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = MlflowSink(uri, "growth", CONFIG)
    play(first, end=RunFailed(phase="train", error="boom"))
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(first.mlflow_run_id)
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == list(LOSSES.items())
    assert run.data.params["train.learning_rate"] == "0.001"
    assert run.data.tags[MlflowSink.RUN_TAG] == "run-1" and run.info.status == "FAILED"
    resumed = MlflowSink(uri, "growth", CONFIG)  # a resumed run continues its MLflow run
    play(resumed)
    assert resumed.mlflow_run_id == first.mlflow_run_id
    assert client.get_run(first.mlflow_run_id).info.status == "FINISHED"
    assert len(client.get_metric_history(first.mlflow_run_id, "train/loss")) == 4


def wandb_records(path: Path) -> list[Any]:
    """Records of a W&B run file: a LevelDB-style log (7-byte header, 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2

    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    records, pos, part = [], 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:
            pos += left
            continue
        part += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(part)
            records.append(record)
            part = b""
    return records


def wandb_finished(path: Path) -> bool:
    try:
        return any(r.WhichOneof("record_type") == "exit" for r in wandb_records(path))
    except Exception:  # a record still being written
        return False


def test_wandb_offline_history_and_config_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    import json

    from scaler_wizard.telemetry.trackers import WandbSink

    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "home"))
    play(WandbSink("scaler-wizard-test", "offline", directory=tmp_path, config=CONFIG))
    (run_file,) = (tmp_path / "wandb").glob("offline-run-*/run-run-1.wandb")
    # W&B's service process writes the file after `finish` returns: wait for its last record.
    assert wait_until(lambda: wandb_finished(run_file))
    rows = []
    config: dict[str, Any] = {}
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            rows.append(
                {
                    "/".join(i.nested_key) or i.key: json.loads(i.value_json)
                    for i in record.history.item
                }
            )
        elif kind == "run":
            config = {u.key: json.loads(u.value_json) for u in record.run.config.update}
    losses = [(r["step"], r["train/loss"]) for r in rows if "train/loss" in r]
    assert losses == list(LOSSES.items())
    assert [r["eval/grown/eval_perplexity"] for r in rows if "eval/grown/eval_perplexity" in r] == [
        9.5
    ]
    assert config["train"] == CONFIG["train"]
