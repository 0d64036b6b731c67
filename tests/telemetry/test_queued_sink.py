"""The queue in front of a slow sink: `handle` never waits, losses are counted, order is kept."""

from __future__ import annotations

import threading

from collector import wait_until

from event_helpers import Collect
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import Event, PhaseStarted
from scaler_wizard.telemetry.queued_sink import QueuedSink


class Gated(Collect):
    """Holds every event at a gate until the test opens it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.polls = 0

    def handle(self, event: Event) -> None:
        self.entered.set()
        self.gate.wait()
        super().handle(event)

    def poll(self) -> None:
        self.polls += 1


class Flaky(Collect):
    def handle(self, event: Event) -> None:
        if event.seq % 2:
            raise ValueError(f"odd seq {event.seq}")
        super().handle(event)


def event(seq: int) -> Event:
    return Event(id=str(seq), type="PhaseStarted", run_id="r", seq=seq, data={"phase": "train"})


def test_handle_never_waits_and_overflow_is_counted() -> None:
    inner = Gated()
    queued = QueuedSink(inner, max_queue=100)
    queued.handle(event(0))
    assert inner.entered.wait(30)  # the worker is stuck inside the sink with event 0
    for seq in range(1, 1000):
        queued.handle(event(seq))  # returns at once: queue or drop, never wait
    assert queued.queued() == 100 and queued.health().dropped == 899
    inner.gate.set()
    queued.close()
    assert [e.seq for e in inner.events] == list(range(101))


def test_errors_of_the_wrapped_sink_are_counted_and_the_worker_survives() -> None:
    inner = Flaky()
    queued = QueuedSink(inner)
    for seq in range(10):
        queued.handle(event(seq))
    queued.close()
    assert [e.seq for e in inner.events] == [0, 2, 4, 6, 8]
    health = queued.health()
    assert health.errors == 5 and health.last_error == "ValueError: odd seq 9"


def test_drain_waits_until_everything_was_handed_on() -> None:
    inner = Collect()
    queued = QueuedSink(inner)
    for seq in range(50):
        queued.handle(event(seq))
    queued.drain(timeout_s=30)
    assert len(inner.events) == 50
    queued.close()


def test_an_idle_sink_is_polled_for_time_based_work() -> None:
    inner = Gated()
    inner.gate.set()
    queued = QueuedSink(inner, poll_interval_s=0.01)
    assert wait_until(lambda: inner.polls >= 3)  # no event needed
    queued.close()


def test_close_gives_up_on_a_stuck_sink_and_counts_what_was_queued() -> None:
    inner = Gated()
    queued = QueuedSink(inner, close_timeout_s=0.05)
    queued.handle(event(0))
    assert inner.entered.wait(30)
    for seq in range(1, 6):
        queued.handle(event(seq))
    queued.close()  # returns although the sink never comes back
    assert queued.health().dropped == 5
    queued.handle(event(6))  # after close: dropped, not queued
    assert queued.health().dropped == 6
    inner.gate.set()


def test_on_the_bus_a_queued_sink_sees_every_event_in_order() -> None:
    inner = Collect()
    bus = EventBus("run-1", [QueuedSink(inner)])
    for _ in range(200):
        bus.emit(PhaseStarted(phase="train"))
    bus.close()
    assert [e.seq for e in inner.events] == list(range(200))
