"""The cognitive-load throttle: a pure state machine that decides the one active alert.

Cockpit practice (AMC 25.1322 §8.b) with Alertmanager-style inhibition and grouping:
1. One active alert at a time; the others wait, most urgent first, then oldest first.
2. The active alert finishes before the next begins: it stays at least `min_display_s`, then
   ends when its display time runs out, when its delivery finished, or when acknowledged.
3. Only a strictly higher priority pre-empts it; the pre-empted alert waits at the head of its
   priority and is shown again afterwards.
4. Inhibition: a warning silences lower-priority alerts whose key it names in `inhibits` — while
   it waits or shows and for `inhibit_hold_s` after. Those waiting are dropped, an active one is
   cleared, new ones are dropped on arrival. Warnings are never inhibited.
5. Flood control: once more than `flood_threshold` alerts with one key arrived within
   `flood_window_s`, the waiting alerts of that key collapse into one summary that counts them.

`step(state, input, now)` returns the next state and what happened; time comes only from `now`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from scaler_wizard.alerts.model import RANK, Alert, ClearReason, outranks
from scaler_wizard.recipe.alerts import ThrottleSpec

FLOOD = "flood"  # the rule name of summary alerts


# Inputs
@dataclass(frozen=True)
class Raise:
    alert: Alert


@dataclass(frozen=True)
class Finish:
    """The channels finished delivering the alert (e.g. its narration was spoken)."""

    alert_id: str


@dataclass(frozen=True)
class Ack:
    alert_id: str


@dataclass(frozen=True)
class Resolve:
    """The condition behind a rule's alerts is over (e.g. the approval was decided)."""

    rule: str


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class End:
    """The run ended: clear the active alert, drop the waiting ones."""


Input = Raise | Finish | Ack | Resolve | Tick | End


# Outputs
@dataclass(frozen=True)
class Show:
    alert: Alert


@dataclass(frozen=True)
class Clear:
    alert: Alert
    reason: ClearReason


DropReason = Literal["inhibited", "folded", "resolved", "acknowledged", "run_ended"]


@dataclass(frozen=True)
class Drop:
    """An alert left the queue without being shown (or without being shown again)."""

    alert: Alert
    reason: DropReason


Output = Show | Clear | Drop


@dataclass(frozen=True)
class Waiting:
    alert: Alert
    order: int  # arrival order; a pre-empted alert keeps its own


@dataclass(frozen=True)
class Active:
    alert: Alert
    order: int
    since: float
    delivered: bool = False


@dataclass(frozen=True)
class ThrottleState:
    spec: ThrottleSpec = field(default_factory=ThrottleSpec)
    active: Active | None = None
    queue: tuple[Waiting, ...] = ()
    arrivals: tuple[tuple[float, str], ...] = ()  # (time, key) inside the flood window
    quiet: tuple[tuple[str, float], ...] = ()  # key → until: inhibition held after a warning
    next_order: int = 0
    summaries: int = 0


def step(state: ThrottleState, signal: Input, now: float) -> tuple[ThrottleState, list[Output]]:
    out: list[Output] = []
    state = _expire(state, now, out)
    state = _apply(state, signal, now, out)
    state = _schedule(state, now, out)
    return state, out


def replay(
    inputs: Iterable[tuple[float, Input]], state: ThrottleState | None = None
) -> tuple[ThrottleState, list[tuple[float, Output]]]:
    """Fold timed inputs through `step`; every output is stamped with its time."""
    state = state or ThrottleState()
    log: list[tuple[float, Output]] = []
    for now, signal in inputs:
        state, outputs = step(state, signal, now)
        log.extend((now, output) for output in outputs)
    return state, log


def _expire(state: ThrottleState, now: float, out: list[Output]) -> ThrottleState:
    spec = state.spec
    state = replace(
        state,
        arrivals=tuple(a for a in state.arrivals if a[0] > now - spec.flood_window_s),
        quiet=tuple(q for q in state.quiet if q[1] > now),
    )
    active = state.active
    if active is None or not _done(active, spec, now):
        return state
    out.append(Clear(active.alert, "finished"))
    return _retire(replace(state, active=None), active.alert, now)


def _done(active: Active, spec: ThrottleSpec, now: float) -> bool:
    shown_s = now - active.since
    if shown_s < spec.min_display_s:
        return False
    display_s = spec.display_s(active.alert.priority)
    return active.delivered or (display_s is not None and shown_s >= display_s)


def _retire(state: ThrottleState, alert: Alert, now: float) -> ThrottleState:
    """An alert left the screen for good; a warning's inhibition lingers for the hold time."""
    if alert.priority != "warning" or state.spec.inhibit_hold_s <= 0:
        return state
    until = now + state.spec.inhibit_hold_s
    kept = tuple(q for q in state.quiet if q[0] not in alert.inhibits)
    return replace(state, quiet=kept + tuple((key, until) for key in alert.inhibits))


def _apply(state: ThrottleState, signal: Input, now: float, out: list[Output]) -> ThrottleState:
    active = state.active
    if isinstance(signal, Raise):
        return _raise(state, signal.alert, now, out)
    if isinstance(signal, Finish) and active is not None and active.alert.id == signal.alert_id:
        return _expire(replace(state, active=replace(active, delivered=True)), now, out)
    if isinstance(signal, Ack):
        if active is not None and active.alert.id == signal.alert_id:
            out.append(Clear(active.alert, "acknowledged"))
            return _retire(replace(state, active=None), active.alert, now)
        return _drop(state, lambda a: a.id == signal.alert_id, "acknowledged", out)
    if isinstance(signal, Resolve):
        state = _drop(state, lambda a: a.rule == signal.rule, "resolved", out)
        if active is not None and active.alert.rule == signal.rule:
            out.append(Clear(active.alert, "finished"))
            return _retire(replace(state, active=None), active.alert, now)
        return state
    if isinstance(signal, End):
        if active is not None:
            out.append(Clear(active.alert, "run_ended"))
        return _drop(replace(state, active=None), lambda a: True, "run_ended", out)
    return state  # Tick, or a Finish for an alert that is no longer active


def _drop(
    state: ThrottleState, which: Callable[[Alert], bool], reason: DropReason, out: list[Output]
) -> ThrottleState:
    kept: list[Waiting] = []
    for waiting in state.queue:
        if which(waiting.alert):
            out.append(Drop(waiting.alert, reason))
        else:
            kept.append(waiting)
    return replace(state, queue=tuple(kept))


def _raise(state: ThrottleState, alert: Alert, now: float, out: list[Output]) -> ThrottleState:
    if alert.priority == "warning":
        state = _inhibit(state, alert, out)
    elif _silenced(state, alert, now):
        out.append(Drop(alert, "inhibited"))
        return state
    state = replace(state, arrivals=(*state.arrivals, (now, alert.key)))
    burst = sum(1 for _, key in state.arrivals if key == alert.key)
    if burst > state.spec.flood_threshold:
        return _fold(state, alert, out)
    return _enqueue(state, Waiting(alert, state.next_order), new=True)


def _inhibit(state: ThrottleState, warning: Alert, out: list[Output]) -> ThrottleState:
    def target(alert: Alert) -> bool:
        return alert.key in warning.inhibits and outranks(warning.priority, alert.priority)

    state = _drop(state, target, "inhibited", out)
    if state.active is not None and target(state.active.alert):
        out.append(Clear(state.active.alert, "inhibited"))
        state = replace(state, active=None)
    return state


def _silenced(state: ThrottleState, alert: Alert, now: float) -> bool:
    present = [w.alert for w in state.queue]
    if state.active is not None:
        present.append(state.active.alert)
    by_warning = any(
        a.priority == "warning" and alert.key in a.inhibits and outranks(a.priority, alert.priority)
        for a in present
    )
    return by_warning or any(key == alert.key and until > now for key, until in state.quiet)


def _fold(state: ThrottleState, alert: Alert, out: list[Output]) -> ThrottleState:
    """Collapse the waiting alerts of `alert.key` and `alert` itself into one summary."""
    same = [w for w in state.queue if w.alert.key == alert.key]
    if not same:  # nothing waits to collapse with: show it as itself
        return _enqueue(state, Waiting(alert, state.next_order), new=True)
    summary = next((w for w in same if w.alert.rule == FLOOD), None)
    for waiting in same:
        if waiting is not summary:
            out.append(Drop(waiting.alert, "folded"))
    out.append(Drop(alert, "folded"))
    members = [w.alert for w in same] + [alert]
    if summary is None:
        state = replace(state, summaries=state.summaries + 1)
        alert_id = f"{FLOOD}-{state.summaries}"
    else:
        alert_id = summary.alert.id
    order = min(w.order for w in same)
    rest = tuple(w for w in state.queue if w.alert.key != alert.key)
    folded = Waiting(summarise(alert_id, alert.key, members), order)
    return _enqueue(replace(state, queue=rest), folded, new=False)


def summarise(alert_id: str, key: str, members: list[Alert]) -> Alert:
    """One alert standing for `members` (which may include an earlier summary)."""
    titles = list(dict.fromkeys(title for member in members for title in _titles(member)))
    count = sum(m.count for m in members)
    priority = min((m.priority for m in members), key=RANK.__getitem__)
    inhibits = tuple(
        dict.fromkeys(k for m in members if m.priority == "warning" for k in m.inhibits)
    )
    seqs = [m.source_seq for m in members if m.source_seq is not None]
    shown = "; ".join(titles[:5]) + ("; …" if len(titles) > 5 else "")
    return Alert(
        id=alert_id,
        priority=priority,
        title=f"{count} related alerts ({key})",
        message=shown,
        rule=FLOOD,
        key=key,
        inhibits=inhibits,
        source_seq=max(seqs) if seqs else None,
        run_id=members[-1].run_id,
        count=count,
        fields={"count": count, "key": key, "priority": priority, "titles": tuple(titles)},
    )


def _titles(alert: Alert) -> list[str]:
    stored = alert.fields.get("titles") if alert.rule == FLOOD else None
    return [str(t) for t in stored] if isinstance(stored, tuple) else [alert.title]


def _enqueue(state: ThrottleState, waiting: Waiting, *, new: bool) -> ThrottleState:
    queue = sorted((*state.queue, waiting), key=lambda w: (RANK[w.alert.priority], w.order))
    next_order = state.next_order + 1 if new else state.next_order
    return replace(state, queue=tuple(queue), next_order=next_order)


def _schedule(state: ThrottleState, now: float, out: list[Output]) -> ThrottleState:
    if not state.queue:
        return state
    head, rest = state.queue[0], state.queue[1:]
    active = state.active
    if active is not None and not outranks(head.alert.priority, active.alert.priority):
        return state
    state = replace(state, queue=rest, active=Active(head.alert, head.order, since=now))
    if active is not None:
        out.append(Clear(active.alert, "preempted"))
        state = _enqueue(state, Waiting(active.alert, active.order), new=False)
    out.append(Show(head.alert))
    return state
