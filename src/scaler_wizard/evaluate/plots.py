"""Report plots as PNG files: loss curve, base-vs-grown metrics, needle-in-a-haystack grid.

Figures are built on matplotlib's Agg canvas directly, never through pyplot, so no global
figure state or GUI backend is touched (plots are drawn from worker threads and headless jobs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scaler_wizard.evaluate.needle import NeedleResult

PASSKEY_PREFIX = "passkey@"
BASE_COLOR, GROWN_COLOR, EVAL_COLOR = "#8c8c8c", "#1f77b4", "#d62728"
PANELS_PER_ROW = 4


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def plot_loss_curve(
    steps: list[int],
    losses: list[float],
    path: Path,
    eval_points: list[tuple[int, float]] | None = None,
) -> Path:
    """Training loss per logged step, with held-out evaluations as markers when given."""
    if len(steps) != len(losses):
        raise ValueError("steps and losses differ in length")
    figure = _new_figure(7.0, 4.0)
    axes = figure.add_subplot()
    axes.plot(steps, losses, color=GROWN_COLOR, linewidth=1.5, label="training loss")
    if eval_points:
        eval_steps, eval_losses = zip(*eval_points, strict=True)
        axes.plot(
            eval_steps, eval_losses, color=EVAL_COLOR, marker="o", linestyle="--",
            label="held-out loss",
        )  # fmt: skip
    axes.set_title("Training loss")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss (nats per token)")
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(figure, path)


def before_after_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Flatten a manifest's `metrics.base`/`metrics.grown` block into plot_before_after's input."""
    flat: dict[str, float] = {}
    for key in ("eval_loss", "eval_perplexity"):
        if metrics.get(key) is not None:
            flat[key] = float(metrics[key])
    passkey = metrics.get("passkey") or {}
    for length in sorted(passkey, key=int):
        flat[f"{PASSKEY_PREFIX}{length}"] = float(passkey[length])
    return flat


def _panel_title(key: str) -> str:
    if key == "eval_perplexity":
        return "Held-out perplexity\n(lower is better)"
    if key == "eval_loss":
        return "Held-out loss, nats/token\n(lower is better)"
    if key.startswith(PASSKEY_PREFIX):
        return f"Passkey accuracy at {int(key[len(PASSKEY_PREFIX) :]):,} tokens\n(higher is better)"
    return key


def _value_label(key: str, value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.0%}" if key.startswith(PASSKEY_PREFIX) else f"{value:.4g}"


def plot_before_after(base: dict[str, float], grown: dict[str, float], path: Path) -> Path:
    """One small bar panel per metric (perplexity, passkey accuracy per length, ...).

    Separate panels because the scales differ by orders of magnitude; a metric that only
    one side has shows an empty bar marked n/a.
    """
    keys = [*base, *(key for key in grown if key not in base)]
    if not keys:
        raise ValueError("no metrics to plot")
    columns = min(len(keys), PANELS_PER_ROW)
    rows = math.ceil(len(keys) / columns)
    figure = _new_figure(3.0 * columns + 0.5, 3.4 * rows + 0.4)
    figure.suptitle("Base vs grown model")
    for index, key in enumerate(keys):
        axes = figure.add_subplot(rows, columns, index + 1)
        values = [base.get(key, math.nan), grown.get(key, math.nan)]
        heights = [0.0 if math.isnan(value) else value for value in values]  # NaN drops the tick
        bars = axes.bar(["base", "grown"], heights, color=[BASE_COLOR, GROWN_COLOR])
        axes.bar_label(bars, labels=[_value_label(key, value) for value in values], padding=2)
        axes.set_title(_panel_title(key), fontsize=10)
        if key.startswith(PASSKEY_PREFIX):
            axes.set_ylim(0, 1.15)  # headroom for the labels above a 100% bar
            axes.yaxis.set_major_formatter("{x:.0%}")
        else:
            finite = [value for value in values if math.isfinite(value)]
            axes.set_ylim(0, max(finite, default=1.0) * 1.15 or 1.0)
        axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def plot_needle_heatmap(result: NeedleResult, path: Path, title: str | None = None) -> Path:
    """Accuracy per cell: needle depth (%) down, prompt length (tokens) across, red to green.

    Rows run from depth 0% (top: the needle right after the intro) to 100% (just before the
    question), the layout of gkamradt's plots; each cell is annotated with its accuracy.
    """
    from matplotlib.colors import LinearSegmentedColormap

    grid = [[result.cell(length, depth).accuracy for length in result.lengths]
            for depth in result.depths]  # fmt: skip
    columns, rows = len(result.lengths), len(result.depths)
    figure = _new_figure(max(4.5, 0.9 * columns + 2.5), max(3.2, 0.5 * rows + 1.8))
    axes = figure.add_subplot()
    colours = LinearSegmentedColormap.from_list("needle", ["#d73027", "#fee08b", "#1a9850"])
    image = axes.imshow(grid, cmap=colours, vmin=0.0, vmax=1.0, aspect="auto")
    for row, values in enumerate(grid):
        for column, value in enumerate(values):
            axes.text(column, row, f"{value:.0%}", ha="center", va="center", fontsize=8)
    axes.set_xticks(range(columns), [f"{length:,}" for length in result.lengths])
    axes.set_yticks(range(rows), [f"{depth * 100:g}%" for depth in result.depths])
    axes.set_xlabel("prompt length (tokens)")
    axes.set_ylabel("needle depth (% of the haystack)")
    trials = max((cell.trials for cell in result.cells), default=1)
    axes.set_title(title or f"Needle in a haystack ({trials} trial(s) per cell)")
    colorbar = figure.colorbar(image, ax=axes)
    colorbar.set_label("accuracy")
    colorbar.ax.yaxis.set_major_formatter("{x:.0%}")
    return _save(figure, path)
