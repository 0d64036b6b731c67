"""Report plots are written as real, non-empty PNG files."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler_wizard.evaluate.plots import before_after_metrics, plot_before_after, plot_loss_curve

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 5_000  # axes, labels and data were drawn, not a blank canvas


def test_loss_curve_with_eval_points(tmp_path: Path) -> None:
    target = tmp_path / "plots" / "loss.png"  # the folder does not exist yet
    steps = list(range(0, 100, 5))
    losses = [3.0 - 0.01 * step for step in steps]
    written = plot_loss_curve(steps, losses, target, eval_points=[(50, 2.6), (95, 2.2)])
    assert written == target
    assert_png(target)


def test_loss_curve_rejects_mismatched_series(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        plot_loss_curve([1, 2], [1.0], tmp_path / "loss.png")


def test_before_after_from_manifest_metrics(tmp_path: Path) -> None:
    base = before_after_metrics(
        {"eval_loss": 2.5, "eval_perplexity": 12.18, "passkey": {"16384": 0.0, "4096": 0.5}}
    )
    grown = before_after_metrics({"eval_perplexity": 11.0, "passkey": {"4096": 1.0}})
    assert list(base) == ["eval_loss", "eval_perplexity", "passkey@4096", "passkey@16384"]
    assert grown == {"eval_perplexity": 11.0, "passkey@4096": 1.0}
    target = plot_before_after(base, grown, tmp_path / "before_after.png")  # grown lacks 16384
    assert_png(target)


def test_before_after_needs_a_metric(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        plot_before_after({}, {}, tmp_path / "empty.png")
