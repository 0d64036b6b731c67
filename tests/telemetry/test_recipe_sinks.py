"""Sinks named in the recipe: built from the catalog (plugins included), queued, never fatal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from collector import Collector
from typer.testing import CliRunner

from scaler_wizard.artifacts.run_folder import RunFolder
from scaler_wizard.catalog import build_catalog
from scaler_wizard.cli import app
from scaler_wizard.pipeline import _bus
from scaler_wizard.recipe.loader import parse_recipe
from scaler_wizard.recipe.templates import template_path
from scaler_wizard.telemetry.events import PhaseStarted
from scaler_wizard.telemetry.jsonl_sink import read_events
from scaler_wizard.telemetry.queued_sink import QueuedSink

PLUGIN = '''
from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str


class FileSink:
    """Appends each event type to a file: what a third-party sink could do."""

    def __init__(self, options, run):
        self.file = open(options.path, "a")
        self.file.write(f"open {run.run_id}\\n")

    def handle(self, event):
        self.file.write(event.type + "\\n")

    def close(self):
        self.file.close()


def register(catalog):
    catalog.sinks.register("file", Options, FileSink, "Event types, one per line.")
'''


@pytest.fixture()
def sink_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A real installed distribution whose entry point registers a `file` sink."""
    root = tmp_path / "site"
    info = root / "sw_file_sink-0.1.dist-info"
    info.mkdir(parents=True)
    (root / "sw_file_sink.py").write_text(PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sw-file-sink\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[scaler_wizard.plugins]\nfile = sw_file_sink:register\n"
    )
    monkeypatch.syspath_prepend(str(root))
    yield
    sys.modules.pop("sw_file_sink", None)


def recipe_text(sinks: list[dict[str, Any]], **sections: Any) -> str:
    data = yaml.safe_load(template_path("tiny-cpu").read_text())
    # Alerts off: these tests count the telemetry's own events, not the alerts derived from them.
    data.update(
        {"alerts": {"default_rules": False}}, telemetry={"sinks": sinks, "drain_timeout_s": 30}
    )
    data.update(sections)
    return yaml.safe_dump(data)


def test_recipe_sinks_are_built_queued_and_failures_are_told(
    tmp_path: Path, sink_plugin: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SW_TEST_TOKEN", raising=False)
    collector = Collector()
    lines = tmp_path / "types.txt"
    sinks = [
        {"kind": "http", "url": collector.url, "batch_size": 2},
        {"kind": "file", "options": {"path": str(lines)}},
        {"kind": "http", "url": collector.url, "token_env": "SW_TEST_TOKEN"},
        {"kind": "statsd", "options": {}},
    ]
    recipe = parse_recipe(recipe_text(sinks))
    run = RunFolder(tmp_path / "run-1")
    try:
        bus = _bus(run, False, 0, recipe=recipe, catalog=build_catalog())
        names = [getattr(s, "name", "") for s in bus.sinks]
        assert names == ["alerts", "jsonl", "http-1", "file"]
        assert all(isinstance(s, QueuedSink) for s in bus.sinks[2:])
        bus.emit(PhaseStarted(phase="train"))
        bus.close()
        events = read_events(run.events)
        failures = {e.data["sink"]: e.data["last_error"] for e in events[:2]}
        assert "SW_TEST_TOKEN" in failures["http-3"] and "statsd" in failures["statsd"]
        assert [e["id"] for e in collector.events] == [e.id for e in events]
        assert lines.read_text().splitlines() == [
            "open run-1",
            "SinkDegraded",
            "SinkDegraded",
            "PhaseStarted",
        ]
    finally:
        collector.close()


def test_a_plugin_sink_with_wrong_options_is_a_told_failure(
    tmp_path: Path, sink_plugin: None
) -> None:
    recipe = parse_recipe(recipe_text([{"kind": "file", "options": {"pth": "x"}}]))
    run = RunFolder(tmp_path / "run-1")
    # As on a resume: the report continues the log's sequence and segment.
    bus = _bus(run, False, 7, recipe=recipe, catalog=build_catalog(), segment=2)
    bus.close()
    (event,) = read_events(run.events)
    assert event.type == "SinkDegraded" and "pth" in event.data["last_error"]
    assert (event.seq, event.segment) == (7, 2)


def test_adding_sinks_does_not_change_training_and_each_sink_gets_the_whole_run(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = tmp_path / "d.jsonl"
    record = {
        "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    }
    data.write_text("\n".join(json.dumps(record) for _ in range(12)) + "\n")
    common = {
        "model": {"source": str(tiny_model_dir)},
        "train": {"steps": 4, "log_every": 1, "batch_size": 2},
    }
    collector = Collector()
    manifests = []
    try:
        observers = [
            {"kind": "http", "url": collector.url, "batch_size": 3},
            {"kind": "tensorboard", "dir": str(tmp_path / "tb")},
        ]
        for name, sinks in [("plain", []), ("observed", observers)]:
            recipe = tmp_path / f"{name}.yaml"
            recipe.write_text(recipe_text(sinks, name=name, **common))
            result = CliRunner().invoke(
                app, ["grow", str(recipe), "--quiet", "--set", f"data.train={data}"]
            )
            assert result.exit_code == 0, result.output
            (run,) = [p for p in (isolated_home / "runs").iterdir() if name in p.name]
            manifests.append(json.loads((run / "manifest.json").read_text()))
        plain, observed = (m["train"]["losses"] for m in manifests)
        assert observed == plain  # same data, same seed: the sinks changed nothing
        events = read_events(run / "events.jsonl")
        assert [e["id"] for e in collector.events] == [e.id for e in events]  # all, in order
        assert not [e for e in events if e.type == "SinkDegraded"]
        reader = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0})
        reader.Reload()
        logged = [(s.step, s.value) for s in reader.Scalars("train/loss")]
        assert logged == [(step, pytest.approx(loss)) for step, loss in observed]  # float32
    finally:
        collector.close()


def test_every_recipe_sink_kind_has_a_catalog_entry_taking_its_spec() -> None:
    from scaler_wizard.recipe import spec

    catalog = build_catalog(load_plugins=False)
    assert catalog.sinks.names() == ["jsonl", "console", *spec.BUILT_IN_SINKS]
    options = {name: catalog.sinks.get(name).options for name in spec.BUILT_IN_SINKS}
    assert options == {
        "http": spec.HttpSinkSpec,
        "tensorboard": spec.TensorBoardSinkSpec,
        "mlflow": spec.MlflowSinkSpec,
        "wandb": spec.WandbSinkSpec,
    }
