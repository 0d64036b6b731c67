"""The bus: `seq` order for every sink (re-entrant and threaded emits), failures told once."""

from __future__ import annotations

import threading
import time

from event_helpers import Collect
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import (
    AlertRaised,
    Event,
    PhaseStarted,
    ProgressUpdated,
)
from scaler_wizard.telemetry.sink import SinkHealth


class Echo(Collect):
    """Like the alerts engine: answers some events by emitting one from inside `handle`."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        self.bus = bus

    def handle(self, event: Event) -> None:
        super().handle(event)
        if event.type == "PhaseStarted" and event.data["phase"] == "train":
            alert = AlertRaised(alert_id="a", priority="advisory", title="t", message="m", rule="r")
            self.bus.emit(alert)


class Exclusive(Collect):
    """Notices if it is ever called from two threads at once."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = threading.Lock()
        self.overlaps = 0

    def handle(self, event: Event) -> None:
        if not self.busy.acquire(blocking=False):
            self.overlaps += 1
            return
        try:
            time.sleep(0)  # lets other threads run: a second deliverer would get in here
            super().handle(event)
        finally:
            self.busy.release()


class Broken:
    name = "broken"

    def handle(self, event: Event) -> None:
        raise RuntimeError(f"cannot take seq {event.seq}")

    def close(self) -> None:
        pass


class Lossy(Collect):
    """Reports drops of its own (as a queue in front of a remote sink does)."""

    name = "lossy"

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def health(self) -> SinkHealth:
        return SinkHealth(dropped=self.dropped, last_error="queue full")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def seqs(sink: Collect) -> list[int]:
    return [e.seq for e in sink.events]


def test_an_event_emitted_inside_a_sink_comes_after_the_current_one_for_every_sink() -> None:
    first, last = Collect(), Collect()
    bus = EventBus("run-1", [first])
    echo = Echo(bus)
    bus.sinks += [echo, last]
    bus.emit(PhaseStarted(phase="train"))
    bus.emit(ProgressUpdated(task="train", done=1, total=2))
    for sink in (first, echo, last):  # `first` got seq 0 before the echo was emitted
        assert seqs(sink) == [0, 1, 2]
        assert [e.type for e in sink.events] == ["PhaseStarted", "AlertRaised", "ProgressUpdated"]


def test_threads_and_reentrant_emits_keep_seq_strictly_increasing_for_every_sink() -> None:
    plain, exclusive = Collect(), Exclusive()
    bus = EventBus("run-1", [plain, exclusive])
    bus.sinks.append(Echo(bus))
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for i in range(300):
            bus.emit(PhaseStarted(phase="train") if i % 10 == 0 else PhaseStarted(phase="data"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = 4 * 300 + 4 * 30  # every emit, plus one echo per 'train' phase
    assert seqs(plain) == list(range(expected))
    assert seqs(exclusive) == list(range(expected)) and exclusive.overlaps == 0


def test_a_failing_sink_is_reported_once_per_window_and_at_close() -> None:
    clock, good = Clock(), Collect()
    bus = EventBus("run-1", [Broken(), good], report_every_s=30, clock=clock)
    for _ in range(5):
        bus.emit(PhaseStarted(phase="train"))
    reports = good.of("SinkDegraded")
    assert len(reports) == 1 and reports[0].data["errors"] == 1  # told at once, then quiet
    assert "cannot take seq 0" in reports[0].data["last_error"]
    clock.now = 31
    bus.emit(PhaseStarted(phase="train"))
    assert len(good.of("SinkDegraded")) == 2
    bus.emit(PhaseStarted(phase="train"))
    bus.close()
    final = good.of("SinkDegraded")[-1]
    assert len(good.of("SinkDegraded")) == 3 and final.data["sink"] == "broken"
    assert final.data["errors"] == bus.sink_errors - 1  # its own delivery failed too, later
    assert seqs(good) == list(range(len(good.events)))


def test_no_error_loop_even_without_a_rate_limit() -> None:
    good = Collect()
    bus = EventBus("run-1", [Broken(), good], report_every_s=0)
    for _ in range(10):
        bus.emit(PhaseStarted(phase="train"))
    # Each report fails on the broken sink too, but that failure waits for the next event.
    assert len(good.of("PhaseStarted")) == 10 and len(good.of("SinkDegraded")) == 10


def test_drops_a_sink_reports_become_events_and_quiet_sinks_stay_quiet() -> None:
    lossy, good = Lossy(), Collect()
    bus = EventBus("run-1", [lossy, good])
    bus.emit(PhaseStarted(phase="train"))
    assert good.of("SinkDegraded") == []  # dark cockpit: nothing to tell
    lossy.dropped = 7
    bus.emit(PhaseStarted(phase="train"))
    (report,) = good.of("SinkDegraded")
    assert report.data == {"sink": "lossy", "errors": 0, "dropped": 7, "last_error": "queue full"}
    bus.close()
    assert len(good.of("SinkDegraded")) == 1  # unchanged counts are not told again at close
