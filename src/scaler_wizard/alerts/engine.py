"""The alert sink: events → rules → throttle → AlertRaised/AlertCleared on the bus + channels.

It sits on the event bus like any sink and never raises into it. Its own AlertRaised and
AlertCleared come back to it through the bus; it ignores them, so nothing loops.

A run's event log ends with its terminal event (RunFinished, RunFailed, RunPaused): once one
has been seen, alerts still reach the channels (the console, a webhook, the voice) but no more
events are emitted, and the cockpit clears its alert on that terminal event itself.

The throttle's clock only moves when something calls in: every handled event ticks it, and a
caller that waits without events (an approval gate) can call `tick()` (or `poll()`). Any thread
may call in; a lock keeps the throttle's steps in order.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial

from scaler_wizard.alerts.delivery import Channel
from scaler_wizard.alerts.model import Alert, cleared_payload, raised_payload
from scaler_wizard.alerts.rules import RuleBook
from scaler_wizard.alerts.throttle import (
    Ack,
    Clear,
    End,
    Finish,
    Input,
    Output,
    Raise,
    Resolve,
    Show,
    ThrottleState,
    Tick,
    step,
)
from scaler_wizard.recipe.alerts import ThrottleSpec
from scaler_wizard.telemetry.events import Event, Payload

OWN_EVENTS = frozenset({"AlertRaised", "AlertCleared"})
TERMINAL_EVENTS = frozenset({"RunFinished", "RunFailed", "RunPaused"})
HISTORY = 500


class AlertSink:
    name = "alerts"

    def __init__(
        self,
        emit: Callable[[Payload], object],
        *,
        rules: RuleBook | None = None,
        channels: Sequence[Channel] = (),
        throttle: ThrottleSpec | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = rules or RuleBook()
        self.channels = list(channels)
        self.errors = 0
        self.history: deque[Output] = deque(maxlen=HISTORY)  # what the throttle decided
        self._emit = emit
        self._clock = clock
        self._state = ThrottleState(spec=throttle or ThrottleSpec())
        self._lock = threading.RLock()
        self._inputs: deque[Input] = deque()
        self._stepping = False
        self._closed = False
        self._ended = False  # a terminal event was seen: channels only, no more events

    @property
    def active(self) -> Alert | None:
        return self._state.active.alert if self._state.active else None

    @property
    def waiting(self) -> tuple[Alert, ...]:
        return tuple(w.alert for w in self._state.queue)

    def handle(self, event: Event) -> None:
        if event.type in OWN_EVENTS or self._closed:
            return
        try:
            inputs: list[Input] = [Tick()]
            inputs += [Resolve(rule) for rule in self.rules.resolved_by(event.type)]
            inputs += [Raise(alert) for alert in self.rules.derive(event)]
        except Exception:  # a broken rule must not stop the run; it is counted
            self.errors += 1
            return
        self._ended = self._ended or event.type in TERMINAL_EVENTS
        self._run(inputs)

    def tick(self) -> None:
        self._run([Tick()])

    def poll(self) -> None:
        """`tick` under the name hosts use to give sinks time-based work."""
        self.tick()

    def acknowledge(self, alert_id: str) -> None:
        self._run([Ack(alert_id)])

    def finish(self, alert_id: str) -> None:
        """A channel finished delivering the active alert (e.g. a player reached its end)."""
        self._run([Finish(alert_id)])

    def close(self) -> None:
        if self._closed:
            return
        self._run([End()])
        self._closed = True
        for channel in self.channels:
            self._guard(channel.close)

    def _run(self, inputs: Sequence[Input]) -> None:
        """Step the throttle and deliver. A call made while delivering (an emitted event that
        makes another sink emit again) only queues its inputs, so every output reaches the
        bus in the order the throttle decided it."""
        with self._lock:
            self._inputs.extend(inputs)
            if self._stepping:
                return
            self._stepping = True
            try:
                while self._inputs:
                    self._step(self._inputs.popleft())
            finally:
                self._stepping = False

    def _step(self, given: Input) -> None:
        try:
            self._state, outputs = step(self._state, given, self._clock())
        except Exception:
            self.errors += 1
            return
        for output in outputs:
            self.history.append(output)
            self._deliver(output)

    def _deliver(self, output: Output) -> None:
        if isinstance(output, Show):
            alert = output.alert
            if not self._ended:
                self._guard(lambda: self._emit(raised_payload(alert)))
            for channel in self.channels:
                self._guard(partial(channel.show, alert))
        elif isinstance(output, Clear):
            alert, reason = output.alert, output.reason
            if not self._ended:
                self._guard(lambda: self._emit(cleared_payload(alert, reason)))
            for channel in self.channels:
                self._guard(partial(channel.clear, alert, reason))

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:  # a broken channel or bus must never reach the run; it is counted
            self.errors += 1
