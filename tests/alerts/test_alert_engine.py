"""The alert sink on a real event bus: what it emits, what it ignores, and that it never raises."""

from __future__ import annotations

from alert_helpers import SPEC, Clock, sink_degraded
from pydantic import BaseModel

from event_helpers import Collect
from scaler_wizard.alerts.delivery import Channel
from scaler_wizard.alerts.engine import AlertSink
from scaler_wizard.alerts.model import Alert, ClearReason
from scaler_wizard.alerts.throttle import Drop, Show
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import (
    AlertCleared,
    AlertRaised,
    ApprovalDecided,
    ApprovalRequested,
    BreakerTripped,
    BreakerWarned,
    Event,
    RunFinished,
    SinkDegraded,
    StepLogged,
)


class Recorder:
    """A channel that writes down what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.closed = False

    def show(self, alert: Alert) -> None:
        self.calls.append(("show", alert.id, alert.priority))

    def clear(self, alert: Alert, reason: ClearReason) -> None:
        self.calls.append(("clear", alert.id, reason))

    def close(self) -> None:
        self.closed = True


class Broken:
    def show(self, alert: Alert) -> None:
        raise RuntimeError("channel down")

    def clear(self, alert: Alert, reason: ClearReason) -> None:
        raise RuntimeError("channel down")

    def close(self) -> None:
        raise RuntimeError("channel down")


WARNED = BreakerWarned(trigger="loss_spike", reason="The loss jumped.", state="closed")
TRIPPED = BreakerTripped(
    trigger="loss_spike", action="pause", reason="The loss kept jumping.", previous_state="closed"
)
STEP = StepLogged(
    loss=2.0,
    grad_norm=0.5,
    learning_rate=1e-4,
    tokens_per_s=900.0,
    memory_gib=1.0,
    eta_s=60.0,
    label_tokens=100,
)


def wire(clock: Clock, *channels: Channel) -> tuple[EventBus, Collect, AlertSink]:
    collect = Collect()
    bus = EventBus("run-1")
    sink = AlertSink(bus.emit, channels=channels, throttle=SPEC, clock=clock)
    bus.sinks = [sink, collect]  # the alert sink first, so its closing facts are still logged
    return bus, collect, sink


def alert_facts(collect: Collect) -> list[tuple[str, str, str]]:
    return alert_facts_of(collect.events)


def alert_facts_of(events: list[Event]) -> list[tuple[str, str, str]]:
    facts = []
    for event in events:
        if event.type == "AlertRaised":
            raised = AlertRaised.model_validate(event.data)
            facts.append(("raised", raised.alert_id, raised.priority))
        elif event.type == "AlertCleared":
            cleared = AlertCleared.model_validate(event.data)
            facts.append(("cleared", cleared.alert_id, cleared.reason))
    return facts


def snapshot_active(events: list[Event]) -> str | None:
    """How the cockpit snapshot folds alert events into its one active alert."""
    active: str | None = None
    for event in events:
        if event.type == "AlertRaised":
            active = event.data["alert_id"]
        elif event.type == "AlertCleared" and event.data["alert_id"] == active:
            active = None
    return active


def test_a_trip_silences_the_warning_before_it_and_the_bus_carries_both_facts() -> None:
    clock = Clock()
    bus, collect, sink = wire(clock)
    bus.emit(WARNED)  # seq 0
    clock.now = 1
    bus.emit(TRIPPED)  # seq 2 (the AlertRaised took seq 1)
    assert alert_facts(collect) == [
        ("raised", "breaker_warned-0", "caution"),
        ("cleared", "breaker_warned-0", "inhibited"),
        ("raised", "breaker_tripped-2", "warning"),
    ]
    raised = collect.of("AlertRaised")[-1]
    assert raised.data["source_seq"] == 2 and raised.data["rule"] == "breaker_tripped"
    assert sink.active is not None
    assert snapshot_active(collect.events) == sink.active.id
    assert bus.sink_errors == 0 and sink.errors == 0


def test_its_own_alert_events_are_ignored_so_nothing_loops() -> None:
    clock = Clock()
    bus, collect, sink = wire(clock)
    bus.emit(TRIPPED)
    bus.emit(AlertRaised(alert_id="x", priority="warning", title="t", message="", rule="r"))
    bus.emit(AlertCleared(alert_id="breaker_tripped-0", reason="finished"))
    assert len(collect.of("AlertRaised")) == 2  # its own one and the one emitted by hand
    assert sink.active is not None and sink.active.id == "breaker_tripped-0"


def test_the_next_alert_waits_for_time_to_pass_and_tick_moves_it_without_events() -> None:
    clock = Clock()
    recorder = Recorder()
    bus, collect, sink = wire(clock, recorder)
    bus.emit(WARNED)
    bus.emit(ApprovalRequested(point="export", timeout_s=60))
    assert [a.id for a in sink.waiting] == ["approval_requested-2"]
    clock.now = 5  # the caution's display time
    sink.tick()
    assert recorder.calls == [
        ("show", "breaker_warned-0", "caution"),
        ("clear", "breaker_warned-0", "finished"),
        ("show", "approval_requested-2", "caution"),
    ]
    assert snapshot_active(collect.events) == "approval_requested-2"


def test_a_decision_withdraws_the_waiting_approval_alert() -> None:
    clock = Clock()
    bus, collect, sink = wire(clock)
    bus.emit(ApprovalRequested(point="export", timeout_s=60))
    clock.now = 1
    bus.emit(ApprovalDecided(point="export", decision="approve", by="user"))
    assert alert_facts(collect)[-1] == ("cleared", "approval_requested-0", "finished")
    assert sink.active is None


def test_acknowledging_clears_the_active_alert() -> None:
    clock = Clock()
    bus, collect, sink = wire(clock)
    bus.emit(TRIPPED)
    sink.acknowledge("breaker_tripped-0")
    assert alert_facts(collect)[-1] == ("cleared", "breaker_tripped-0", "acknowledged")


def test_closing_ends_the_active_alert_and_closes_the_channels() -> None:
    clock = Clock()
    recorder = Recorder()
    bus, collect, _ = wire(clock, recorder)
    bus.emit(TRIPPED)
    bus.close()
    assert alert_facts(collect) == [
        ("raised", "breaker_tripped-0", "warning"),
        ("cleared", "breaker_tripped-0", "run_ended"),
    ]
    assert recorder.closed
    bus.emit(TRIPPED)  # after close nothing more is derived
    assert len(collect.of("AlertRaised")) == 1


def test_after_the_terminal_event_alerts_reach_channels_but_not_the_log() -> None:
    """The log ends with RunFinished; the "finished" advisory is still shown and cleared."""
    clock = Clock()
    recorder = Recorder()
    bus, collect, _ = wire(clock, recorder)
    bus.emit(RunFinished(status="completed", artifact_dir="/a", duration_s=1.0))
    bus.close()
    assert collect.events[-1].type == "RunFinished"
    assert alert_facts(collect) == []
    assert recorder.calls == [
        ("show", "run_finished-0", "advisory"),
        ("clear", "run_finished-0", "run_ended"),
    ]


def test_a_broken_channel_or_bus_never_reaches_the_caller() -> None:
    clock = Clock()
    recorder = Recorder()
    bus, _, sink = wire(clock, Broken(), recorder)
    bus.emit(TRIPPED)
    assert recorder.calls == [("show", "breaker_tripped-0", "warning")]  # others still served
    assert sink.errors == 1 and bus.sink_errors == 0

    def failing_emit(payload: object) -> None:
        raise RuntimeError("bus down")

    lonely = AlertSink(failing_emit, throttle=SPEC, clock=clock)
    lonely.handle(bus.emit(TRIPPED))
    lonely.close()
    assert lonely.errors == 2  # the raise and the clear could not be emitted


def test_ordinary_events_tick_the_clock_but_raise_nothing() -> None:
    clock = Clock()
    bus, collect, sink = wire(clock)
    bus.emit(WARNED)
    clock.now = 6
    bus.emit(STEP)
    assert alert_facts(collect)[-1] == ("cleared", "breaker_warned-0", "finished")
    assert [o.alert.id for o in sink.history if isinstance(o, Show)] == ["breaker_warned-0"]


class Echo:
    """A sink that reacts to the first AlertRaised by emitting another fact on the same bus,
    as a sink that reports its own trouble might."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.fired = False

    def handle(self, event: Event) -> None:
        if event.type == "AlertRaised" and not self.fired:
            self.fired = True
            self.bus.emit(TRIPPED)

    def close(self) -> None:
        pass


def test_an_event_emitted_while_an_alert_is_delivered_keeps_the_facts_in_order() -> None:
    clock = Clock()
    bus, collect, sink = wire(clock)
    bus.sinks.insert(1, Echo(bus))
    bus.emit(SinkDegraded(sink="http", errors=1, dropped=0, last_error="refused"))
    assert alert_facts(collect) == [
        ("raised", "sink_degraded-0", "advisory"),
        ("cleared", "sink_degraded-0", "preempted"),
        ("raised", "breaker_tripped-2", "warning"),
    ]
    assert sink.active is not None
    assert snapshot_active(collect.events) == sink.active.id


def test_the_worked_example_in_the_docs() -> None:
    """docs/alerts.md walks through this timeline with the default throttle settings."""
    clock = Clock()
    collect = Collect()
    bus = EventBus("run-1")
    sink = AlertSink(bus.emit, clock=clock)
    bus.sinks = [sink, collect]
    script: list[tuple[float, BaseModel | None]] = [
        (0, WARNED),
        (4, sink_degraded("http")),
        (6, TRIPPED),
        (10, WARNED),
        (36, None),
        (40, ApprovalRequested(point="export", timeout_s=600)),
        (50, ApprovalDecided(point="export", decision="approve", by="user")),
        (58, None),
    ]
    timeline = []
    for now, payload in script:
        clock.now = now
        seen = len(collect.events)
        if payload is None:
            sink.tick()
        else:
            bus.emit(payload)
        timeline += [(now, *fact) for fact in alert_facts_of(collect.events[seen:])]
    assert timeline == [
        (0, "raised", "breaker_warned-0", "caution"),
        (6, "cleared", "breaker_warned-0", "inhibited"),
        (6, "raised", "breaker_tripped-3", "warning"),
        (36, "cleared", "breaker_tripped-3", "finished"),
        (36, "raised", "sink_degraded-2", "advisory"),
        (40, "cleared", "sink_degraded-2", "preempted"),
        (40, "raised", "approval_requested-9", "caution"),
        (50, "cleared", "approval_requested-9", "finished"),
        (50, "raised", "sink_degraded-2", "advisory"),
        (58, "cleared", "sink_degraded-2", "finished"),
    ]
    # The caution at t=10 never showed: the active warning silenced it.
    assert [o.alert.id for o in sink.history if isinstance(o, Drop)] == ["breaker_warned-6"]
