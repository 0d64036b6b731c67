"""The throttle, table-driven: each row is timed inputs → the timed decisions they must give."""

from __future__ import annotations

import pytest
from alert_helpers import SPEC, alert, brief

from scaler_wizard.alerts.throttle import (
    FLOOD,
    Ack,
    End,
    Finish,
    Input,
    Raise,
    Resolve,
    Show,
    ThrottleState,
    Tick,
    replay,
)

W, C, A = "warning", "caution", "advisory"

CASES: dict[str, tuple[list[tuple[float, Input]], list[tuple[float, tuple[str, ...]]]]] = {
    "one at a time: the next waits until the active one finishes": (
        [(0, Raise(alert("a"))), (1, Raise(alert("b"))), (5, Tick()), (10, Tick())],
        [
            (0, ("show", "a")),
            (5, ("clear", "a", "finished")),
            (5, ("show", "b")),
            (10, ("clear", "b", "finished")),
        ],
    ),
    "waiting alerts go most urgent first, then oldest first": (
        [
            (0, Raise(alert("x", W))),
            (1, Raise(alert("adv1", A))),
            (2, Raise(alert("cau2", C))),
            (3, Raise(alert("adv3", A))),
            (10, Tick()),
            (15, Tick()),
            (18, Tick()),
        ],
        [
            (0, ("show", "x")),
            (10, ("clear", "x", "finished")),
            (10, ("show", "cau2")),
            (15, ("clear", "cau2", "finished")),
            (15, ("show", "adv1")),
            (18, ("clear", "adv1", "finished")),
            (18, ("show", "adv3")),
        ],
    ),
    "a higher priority pre-empts; the pre-empted alert comes back afterwards": (
        [(0, Raise(alert("a", A))), (1, Raise(alert("w", W))), (11, Tick()), (14, Tick())],
        [
            (0, ("show", "a")),
            (1, ("clear", "a", "preempted")),
            (1, ("show", "w")),
            (11, ("clear", "w", "finished")),
            (11, ("show", "a")),
            (14, ("clear", "a", "finished")),
        ],
    ),
    "pre-emption ignores the minimum display time": (
        [(0, Raise(alert("c", C))), (0.5, Raise(alert("w", W)))],
        [(0, ("show", "c")), (0.5, ("clear", "c", "preempted")), (0.5, ("show", "w"))],
    ),
    "the same priority never pre-empts": (
        [(0, Raise(alert("w1", W))), (1, Raise(alert("w2", W))), (10, Tick())],
        [(0, ("show", "w1")), (10, ("clear", "w1", "finished")), (10, ("show", "w2"))],
    ),
    "a delivered alert ends at once, but not before the minimum display time": (
        [
            (0, Raise(alert("a"))),
            (1, Raise(alert("b"))),
            (1, Finish("a")),
            (2, Tick()),
            (4, Finish("b")),
        ],
        [
            (0, ("show", "a")),
            (2, ("clear", "a", "finished")),
            (2, ("show", "b")),
            (4, ("clear", "b", "finished")),
        ],
    ),
    "acknowledging the active alert ends it; a waiting one is dropped": (
        [
            (0, Raise(alert("a"))),
            (0, Raise(alert("b"))),
            (0, Raise(alert("c"))),
            (1, Ack("c")),
            (1, Ack("a")),
        ],
        [
            (0, ("show", "a")),
            (1, ("drop", "c", "acknowledged")),
            (1, ("clear", "a", "acknowledged")),
            (1, ("show", "b")),
        ],
    ),
    "a warning silences related alerts: waiting, active, and new ones": (
        [
            (0, Raise(alert("c1", C, key="training"))),
            (0, Raise(alert("a1", A, key="training"))),
            (1, Raise(alert("w", W, key="training"))),
            (2, Raise(alert("c2", C, key="training"))),
            (3, Raise(alert("other", A, key="approval"))),
            (11, Tick()),
        ],
        [
            (0, ("show", "c1")),
            (1, ("drop", "a1", "inhibited")),
            (1, ("clear", "c1", "inhibited")),  # not "preempted": it does not come back
            (1, ("show", "w")),
            (2, ("drop", "c2", "inhibited")),
            (11, ("clear", "w", "finished")),
            (11, ("show", "other")),
        ],
    ),
    "inhibition holds after the warning ends, then lapses": (
        [
            (0, Raise(alert("w", W, key="training"))),
            (10, Tick()),
            (29, Raise(alert("c1", C, key="training"))),
            (31, Raise(alert("c2", C, key="training"))),
        ],
        [
            (0, ("show", "w")),
            (10, ("clear", "w", "finished")),
            (29, ("drop", "c1", "inhibited")),
            (31, ("show", "c2")),
        ],
    ),
    "a warning silences every key it names, and only lower priorities": (
        [
            (0, Raise(alert("w1", W, key="run", inhibits=("run", "training")))),
            (1, Raise(alert("c", C, key="training"))),
            (2, Raise(alert("w2", W, key="training"))),
            (10, Tick()),
        ],
        [
            (0, ("show", "w1")),
            (1, ("drop", "c", "inhibited")),
            (10, ("clear", "w1", "finished")),
            (10, ("show", "w2")),
        ],
    ),
    "a flood of one key collapses into one summary": (
        [
            (0, Raise(alert("k1", key="k"))),
            (1, Raise(alert("k2", key="k"))),
            (2, Raise(alert("k3", key="k"))),
            (3, Raise(alert("k4", key="k"))),
            (5, Tick()),
        ],
        [
            (0, ("show", "k1")),
            (3, ("drop", "k2", "folded")),
            (3, ("drop", "k3", "folded")),
            (3, ("drop", "k4", "folded")),
            (5, ("clear", "k1", "finished")),
            (5, ("show", "flood-1")),
        ],
    ),
    "more alerts during a flood join the waiting summary": (
        [
            (0, Raise(alert("k1", key="k"))),
            (1, Raise(alert("k2", key="k"))),
            (2, Raise(alert("k3", key="k"))),
            (3, Raise(alert("k4", key="k"))),
            (4, Raise(alert("k5", key="k"))),
            (5, Tick()),
        ],
        [
            (0, ("show", "k1")),
            (3, ("drop", "k2", "folded")),
            (3, ("drop", "k3", "folded")),
            (3, ("drop", "k4", "folded")),
            (4, ("drop", "k5", "folded")),
            (5, ("clear", "k1", "finished")),
            (5, ("show", "flood-1")),
        ],
    ),
    "during a flood, an alert with nothing to collapse with is shown as itself": (
        [
            (0, Raise(alert("k1", key="k"))),
            (1, Raise(alert("k2", key="k"))),
            (2, Raise(alert("k3", key="k"))),
            (3, Raise(alert("k4", key="k"))),
            (5, Tick()),
            (6, Raise(alert("k5", key="k"))),
            (10, Tick()),
            (15, Tick()),
        ],
        [
            (0, ("show", "k1")),
            (3, ("drop", "k2", "folded")),
            (3, ("drop", "k3", "folded")),
            (3, ("drop", "k4", "folded")),
            (5, ("clear", "k1", "finished")),
            (5, ("show", "flood-1")),
            (10, ("clear", "flood-1", "finished")),
            (10, ("show", "k5")),
            (15, ("clear", "k5", "finished")),
        ],
    ),
    "the flood window forgets old arrivals": (
        [
            (0, Raise(alert("k1", key="k"))),
            (5, Tick()),
            (20, Raise(alert("k2", key="k"))),
            (25, Tick()),
            (40, Raise(alert("k3", key="k"))),
            (41, Raise(alert("k4", key="k"))),
        ],
        [
            (0, ("show", "k1")),
            (5, ("clear", "k1", "finished")),
            (20, ("show", "k2")),
            (25, ("clear", "k2", "finished")),
            (40, ("show", "k3")),
        ],
    ),
    "a resolved condition withdraws its alerts, active or waiting": (
        [
            (0, Raise(alert("ap1", rule="approval"))),
            (0, Raise(alert("ap2", rule="approval"))),
            (0, Raise(alert("x"))),
            (1, Resolve("approval")),
        ],
        [
            (0, ("show", "ap1")),
            (1, ("drop", "ap2", "resolved")),
            (1, ("clear", "ap1", "finished")),
            (1, ("show", "x")),
        ],
    ),
    "a pre-empted alert whose condition ended does not come back": (
        [
            (0, Raise(alert("ap", A, rule="approval"))),
            (1, Raise(alert("w", W))),
            (2, Resolve("approval")),
            (11, Tick()),
        ],
        [
            (0, ("show", "ap")),
            (1, ("clear", "ap", "preempted")),
            (1, ("show", "w")),
            (2, ("drop", "ap", "resolved")),
            (11, ("clear", "w", "finished")),
        ],
    ),
    "the end of the run clears the active alert and drops the rest": (
        [(0, Raise(alert("a"))), (0, Raise(alert("b"))), (1, End())],
        [(0, ("show", "a")), (1, ("clear", "a", "run_ended")), (1, ("drop", "b", "run_ended"))],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_throttle_table(name: str) -> None:
    inputs, expected = CASES[name]
    _, log = replay(inputs, ThrottleState(spec=SPEC))
    assert [(t, brief(out)) for t, out in log] == expected


def test_flood_summary_counts_members_and_takes_the_most_urgent_priority() -> None:
    inputs: list[tuple[float, Input]] = [
        (0, Raise(alert("busy", A, key="other"))),
        (0.5, Raise(alert("k1", A, key="k"))),
        (1.0, Raise(alert("k2", A, key="k"))),
        (1.5, Raise(alert("k3", A, key="k"))),
        (2.0, Raise(alert("k4", C, key="k"))),
    ]
    state, log = replay(inputs, ThrottleState(spec=SPEC))
    # The summary took k4's caution, so it pre-empted the active advisory, which waits again.
    shown = [out.alert for _, out in log if isinstance(out, Show)]
    summary = shown[-1]
    assert (summary.rule, summary.priority, summary.count) == (FLOOD, C, 4)
    assert summary.title == "4 related alerts (k)"
    assert summary.message == "title k1; title k2; title k3; title k4"
    assert [w.alert.id for w in state.queue] == ["busy"]


def test_a_warning_waits_as_long_as_needed_when_its_display_time_is_none() -> None:
    spec = SPEC.model_copy(update={"warning_display_s": None})
    inputs: list[tuple[float, Input]] = [
        (0, Raise(alert("w", W))),
        (1000, Tick()),
        (1001, Ack("w")),
    ]
    _, log = replay(inputs, ThrottleState(spec=spec))
    assert [(t, brief(out)) for t, out in log] == [
        (0, ("show", "w")),
        (1001, ("clear", "w", "acknowledged")),
    ]


def test_step_is_pure_the_same_inputs_give_the_same_decisions() -> None:
    inputs = CASES["a flood of one key collapses into one summary"][0]
    start = ThrottleState(spec=SPEC)
    assert replay(inputs, start) == replay(inputs, start)
    assert start == ThrottleState(spec=SPEC)
