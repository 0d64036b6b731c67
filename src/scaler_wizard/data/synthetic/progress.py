"""Progress of slow data work (generation): a callback, or a Rich bar when none is given."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

# (task, done, total): called after each unit of work, and once with done == 0 at the start.
ProgressFn = Callable[[str, int, int], None]


@contextmanager
def rich_progress() -> Iterator[ProgressFn]:
    """A transient Rich bar on stderr, one task per name; nothing is drawn off a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    tasks: dict[str, TaskID] = {}
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:

        def report(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield report
