"""One background thread per slow channel, so a webhook or a synthesiser never blocks a run."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

Job = Callable[[], None]


class Worker:
    """Runs jobs one at a time in submission order. When `max_pending` jobs already wait, the
    oldest is dropped: the newest alert is the one that matters now."""

    def __init__(self, name: str, max_pending: int = 100, *, start: bool = True) -> None:
        self.name = name
        self.max_pending = max_pending
        self.done = 0
        self.failed = 0
        self.dropped = 0
        self._pending: deque[tuple[str, Job]] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
            self._thread.start()

    def submit(self, key: str, job: Job) -> bool:
        with self._cond:
            if self._closed:
                self.dropped += 1
                return False
            if len(self._pending) >= self.max_pending:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append((key, job))
            self._cond.notify_all()
            return True

    def cancel(self, key: str) -> int:
        """Forget the waiting jobs submitted under `key`; a running job finishes."""
        with self._cond:
            kept = deque(item for item in self._pending if item[0] != key)
            cancelled = len(self._pending) - len(kept)
            self._pending = kept
            return cancelled

    def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until nothing is waiting or running (runs the jobs here if not started)."""
        if self._thread is None:
            while (item := self._take()) is not None:
                self._run(item[1])
            return True
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish what waits (within `timeout_s`), then stop the thread."""
        self.drain(timeout_s)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _take(self) -> tuple[str, Job] | None:
        with self._cond:
            return self._pending.popleft() if self._pending else None

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or self._closed)
                if not self._pending:
                    return
                _, job = self._pending.popleft()
                self._busy = True
            self._run(job)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _run(self, job: Job) -> None:
        try:
            job()
            self.done += 1
        except Exception:  # a failing delivery is counted; it never reaches the run
            self.failed += 1
