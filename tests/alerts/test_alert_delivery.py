"""The delivery worker (order, bounds, cancellation, failures) and the console channel."""

from __future__ import annotations

import threading
from dataclasses import replace

from alert_helpers import alert
from rich.console import Console

from scaler_wizard.alerts.delivery.console import ConsoleChannel
from scaler_wizard.alerts.delivery.worker import Worker


def test_jobs_run_in_order_and_a_full_queue_drops_the_oldest() -> None:
    done: list[str] = []
    worker = Worker("test", max_pending=2, start=False)
    for name in "abc":
        worker.submit(name, lambda name=name: done.append(name))
    worker.drain()
    assert done == ["b", "c"] and worker.dropped == 1


def test_cancel_forgets_waiting_jobs_of_one_key_only() -> None:
    done: list[str] = []
    worker = Worker("test", start=False)
    worker.submit("a", lambda: done.append("a1"))
    worker.submit("b", lambda: done.append("b"))
    worker.submit("a", lambda: done.append("a2"))
    assert worker.cancel("a") == 2
    worker.drain()
    assert done == ["b"]


def test_a_failing_job_is_counted_and_the_next_one_still_runs() -> None:
    done: list[str] = []

    def fail() -> None:
        raise RuntimeError("endpoint down")

    worker = Worker("test")  # a real thread
    worker.submit("x", fail)
    worker.submit("y", lambda: done.append("y"))
    worker.close()
    assert (worker.failed, worker.done, done) == (1, 1, ["y"])
    assert worker.submit("z", lambda: None) is False  # closed: refused, counted
    assert worker.dropped == 1


def test_a_running_job_does_not_block_submitting() -> None:
    gate = threading.Event()
    worker = Worker("test")
    worker.submit("slow", lambda: gate.wait(timeout=10))
    assert worker.submit("next", lambda: None)  # returns while the first job is held
    gate.set()
    assert worker.drain(timeout_s=10)
    worker.close()
    assert worker.done == 2


def test_console_shows_priority_title_and_message_and_notes_unusual_clears() -> None:
    console = Console(record=True, width=200, color_system=None)
    channel = ConsoleChannel(console)
    trip = alert("t", "warning")
    channel.show(trip)
    channel.show(alert("c", "caution"))
    channel.clear(trip, "finished")  # a normal end says nothing (dark cockpit)
    channel.clear(alert("p", "advisory"), "preempted")
    lines = console.export_text().splitlines()
    assert lines == [
        "▲ WARNING title t",
        "■ CAUTION title c",
        "  title p: set aside for a more urgent alert; it comes back afterwards",
    ]


def test_console_does_not_read_markup_inside_alert_text() -> None:
    console = Console(record=True, width=200, color_system=None)
    odd = replace(alert("x", "advisory"), title="[bold]not markup[/]", message="a [b] c")
    ConsoleChannel(console).show(odd)
    assert console.export_text().strip() == "● ADVISORY [bold]not markup[/] — a [b] c"
