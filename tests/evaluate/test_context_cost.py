"""Context cost: one timed forward per length, increasing lengths, memory that can be compared."""

from __future__ import annotations

from typing import Any

from scaler_wizard.evaluate.context_cost import default_lengths, measure_context_cost


def test_default_lengths_double_up_to_the_target() -> None:
    assert default_lengths(5000) == [1024, 2048, 4096, 5000]
    assert default_lengths(1024) == [1024]
    assert default_lengths(300) == [300]


def test_each_length_is_measured_once_in_increasing_order(tiny_model: Any) -> None:
    calls: list[tuple[int, int]] = []
    rows = measure_context_cost(
        tiny_model,
        [64, 16, 64, 32],
        tiny_model.config.vocab_size,
        lambda d, t: calls.append((d, t)),
    )
    assert [r.length for r in rows] == [16, 32, 64]
    assert all(r.latency_s > 0 for r in rows)
    assert all(r.memory_kind == "process_peak_rss" for r in rows)  # this machine has no GPU
    peaks = [r.memory_gib for r in rows]
    assert peaks == sorted(peaks) and peaks[0] > 0.05  # the whole process, never decreasing
    assert calls == [(1, 3), (2, 3), (3, 3)]
