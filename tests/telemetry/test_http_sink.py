"""The HTTP sink against a real collector: down then up, stuck, refusing, and bounded."""

from __future__ import annotations

import threading

import pytest
from collector import Collector, free_port, wait_until

from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import Event, ProgressUpdated
from scaler_wizard.telemetry.http_sink import HttpSink, backoff_delay
from scaler_wizard.telemetry.queued_sink import QueuedSink

FAST_RETRY = {"backoff_initial_s": 0.01, "backoff_max_s": 0.05}


def emit(bus: EventBus, n: int) -> None:
    for i in range(n):
        bus.emit(ProgressUpdated(task="train", done=i, total=n))


def delivered_in_order(events: list[dict[str, object]], emitted: int) -> bool:
    """Every event of the run once, in `seq` order (the bus's own SinkDegraded reports take
    their place in the sequence wherever the failures happened to be noticed)."""
    progress = [e for e in events if e["type"] == "ProgressUpdated"]
    return [e["seq"] for e in events] == list(range(len(events))) and len(progress) == emitted


def event(seq: int) -> Event:
    return Event(id=f"e{seq}", type="ProgressUpdated", run_id="r", seq=seq, data={})


@pytest.mark.parametrize(
    ("failures", "jitter", "expected"),
    [
        (1, 0.0, 0.25),  # half the initial delay at the lowest jitter
        (1, 1.0, 0.5),
        (2, 1.0, 1.0),  # doubles per failure
        (4, 1.0, 4.0),
        (10, 1.0, 8.0),  # capped
        (10, 0.0, 4.0),  # never below half the cap: retries do not hammer
    ],
)
def test_backoff_doubles_with_jitter_and_a_cap(
    failures: int, jitter: float, expected: float
) -> None:
    assert backoff_delay(failures, 0.5, 8.0, jitter) == pytest.approx(expected)


def test_a_down_collector_loses_nothing_once_it_comes_up() -> None:
    port = free_port()  # nothing listens: every POST is refused until the collector starts
    http = HttpSink(f"http://127.0.0.1:{port}/events", batch_size=10, **FAST_RETRY)
    bus = EventBus("run-1", [QueuedSink(http)])
    emit(bus, 100)
    assert wait_until(lambda: http.health().errors >= 2)  # it did try, and failed, and retried
    assert http.sent == 0
    collector = Collector(port=port)
    try:
        bus.close()
        assert delivered_in_order(collector.events, 100)
        degraded = [e for e in collector.events if e["type"] == "SinkDegraded"]
        assert degraded and degraded[-1]["data"]["dropped"] == 0  # failures told, none lost
    finally:
        collector.close()


def test_emits_never_wait_for_a_stuck_collector() -> None:
    gate = threading.Event()
    collector = Collector(gate=gate)
    try:
        http = HttpSink(collector.url, batch_size=50, timeout_s=120, **FAST_RETRY)
        bus = EventBus("run-1", [QueuedSink(http)])
        bus.emit(ProgressUpdated(task="train", done=0, total=500))
        assert wait_until(lambda: collector.waiting == 1)  # the first POST hangs at the gate
        emit(bus, 499)  # all return while the collector is still stuck
        assert collector.waiting == 1 and collector.events == [] and not gate.is_set()
        gate.set()
        bus.close()
        assert delivered_in_order(collector.events, 500)
        assert http.health().dropped == 0
    finally:
        collector.close()


def test_a_retried_batch_is_the_same_batch_with_the_same_key() -> None:
    collector = Collector(statuses=[503, 500])
    try:
        http = HttpSink(collector.url, token="s3cret", batch_size=3, **FAST_RETRY)
        for seq in range(3):
            http.handle(event(seq))
        http.drain(timeout_s=30)
        assert [a["status"] for a in collector.attempts] == [503, 500, 200]
        keys = {a["headers"]["Idempotency-Key"] for a in collector.attempts}
        bodies = {str(a["batch"]) for a in collector.attempts}
        assert len(keys) == 1 and len(bodies) == 1
        assert collector.attempts[0]["headers"]["Authorization"] == "Bearer s3cret"
        assert [e["seq"] for e in collector.events] == [0, 1, 2]
        assert http.health().errors == 2 and http.health().last_error == "HTTP 500"
    finally:
        collector.close()


def test_a_refused_batch_is_dropped_and_counted_not_retried_forever() -> None:
    collector = Collector(statuses=[400])
    try:
        http = HttpSink(collector.url, batch_size=2, **FAST_RETRY)
        for seq in range(4):
            http.handle(event(seq))
        http.drain(timeout_s=30)
        assert [e["seq"] for e in collector.events] == [2, 3]
        health = http.health()
        assert (health.errors, health.dropped) == (1, 2) and "400" in health.last_error
    finally:
        collector.close()


def test_the_buffer_is_bounded_and_drops_the_oldest() -> None:
    port = free_port()
    http = HttpSink(f"http://127.0.0.1:{port}/e", batch_size=100, max_buffer=5, **FAST_RETRY)
    for seq in range(12):
        http.handle(event(seq))
    assert http.buffered() == 5 and http.health().dropped == 7
    collector = Collector(port=port)
    try:
        http.drain(timeout_s=30)
        assert [e["seq"] for e in collector.events] == [7, 8, 9, 10, 11]
    finally:
        collector.close()


def test_a_partial_batch_goes_out_when_it_is_old_enough() -> None:
    collector = Collector()
    try:
        http = HttpSink(collector.url, batch_size=1000, flush_interval_s=0.01)
        queued = QueuedSink(http, poll_interval_s=0.01)
        queued.handle(event(0))
        assert wait_until(lambda: len(collector.events) == 1)  # sent by a poll, not by close
        queued.close()
    finally:
        collector.close()


def test_whatever_the_collector_never_took_is_counted_at_the_drain_deadline() -> None:
    http = HttpSink(f"http://127.0.0.1:{free_port()}/e", **FAST_RETRY)
    for seq in range(3):
        http.handle(event(seq))
    http.drain(timeout_s=0.2)
    health = http.health()
    assert http.buffered() == 0 and health.dropped == 3 and health.errors >= 1
    http.close()
