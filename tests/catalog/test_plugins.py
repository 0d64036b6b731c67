"""Plugins register through the `scaler_wizard.plugins` entry point, without touching the core."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scaler_wizard.catalog import build_catalog

PLUGIN = """
from pathlib import Path


def export_hook(run_path: Path, manifest: dict) -> None:
    (Path(run_path) / "handed-over.txt").write_text(manifest["run_id"])


def register(catalog):
    from scaler_wizard.catalog import NoOptions

    catalog.export_hooks.register(
        "hand-over", NoOptions, export_hook, "Marks the artifact as handed over.",
        origin="sw-demo-plugin",
    )


def broken(catalog):
    raise RuntimeError("this plugin is broken on purpose")
"""


def install_plugin(root: Path, entry_points: str) -> None:
    """A real distribution on sys.path: a module plus a .dist-info with entry_points.txt."""
    (root / "sw_demo_plugin.py").write_text(PLUGIN)
    info = root / "sw_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sw-demo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[scaler_wizard.plugins]\n{entry_points}\n")


@pytest.fixture()
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("sw_demo_plugin", None)


def test_plugin_hook_is_registered_and_broken_plugins_are_reported(plugin_path: Path) -> None:
    install_plugin(plugin_path, "demo = sw_demo_plugin:register\nbad = sw_demo_plugin:broken")
    catalog = build_catalog()
    entry = catalog.export_hooks.get("hand-over")
    assert entry.origin == "sw-demo-plugin"
    assert "sw-demo-plugin" in catalog.plugin_errors
    assert "broken on purpose" in catalog.plugin_errors["sw-demo-plugin"]
    assert "lora" in catalog.growth  # built-ins are untouched


def test_export_hook_runs_after_a_real_export(
    plugin_path: Path, tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from scaler_wizard.cli import app

    install_plugin(plugin_path, "demo = sw_demo_plugin:register")
    data = tmp_path / "d.jsonl"
    record = {
        "messages": [
            {"role": "user", "content": "Hi?"},
            {"role": "assistant", "content": "Hello there."},
        ]
    }
    data.write_text("\n".join(json.dumps(record) for _ in range(12)) + "\n")
    result = CliRunner().invoke(
        app,
        [
            "grow",
            "tiny-cpu",
            "--quiet",
            "--set",
            f"model.source={tiny_model_dir}",
            "--set",
            f"data.train={data}",
            "--set",
            "evaluate.passkey=null",
        ],
    )
    assert result.exit_code == 0, result.output
    run = next((isolated_home / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["export_hooks"] == {"hand-over": "ok"}
    assert (run / "handed-over.txt").read_text() == manifest["run_id"]
