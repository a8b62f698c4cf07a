"""One measurement at a time on each device, across every session of this server.

Streamlit runs each session's script in a thread of one process, so two people pressing
"Measure" at once would time each other (on a two-core machine a forward took three
times as long). A measurement takes a ticket and waits, its place in line shown, until it
is first; it then runs alone and gives its place up when it ends, fails, or is stopped
(a rerun or a closed tab: the wait calls Streamlit, which raises in a stopped script).
Counting and theory never take a ticket.

At interpreter exit (the server stopped by SIGTERM or Ctrl+C) the running measurement is
asked to stop and is waited for. Script threads are daemons: one still inside a torch
kernel when the interpreter finalizes is unwound by force when it reacquires the GIL,
and the process aborts ("terminate called without an active exception", status 134).
Measurements check the stop request between forward passes.
"""

from __future__ import annotations

import atexit
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from calc.time_bound import Stopped

WAIT_POLL_SECONDS = 0.25  # how often a waiting session redraws its place in line
SHUTDOWN_WAIT_SECONDS = 30.0  # at exit, how long the running measurement may take to stop


class DeviceQueue:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._lines: dict[str, list[int]] = {}
        self._tickets = itertools.count(1)
        self.stop = threading.Event()  # set at shutdown: measurements end at their next check

    def waiting(self, device: str) -> int:
        """How many measurements are running or waiting on ``device``."""
        with self._condition:
            return len(self._lines.get(device, ()))

    @contextmanager
    def turn(self, device: str, on_wait: Callable[[int], None] | None = None) -> Iterator[float]:
        """Wait until this request is first in line for ``device``, calling ``on_wait(ahead)``
        with the number of requests ahead while waiting; yields the seconds waited."""
        started = time.perf_counter()
        with self._condition:
            ticket = next(self._tickets)
            line = self._lines.setdefault(device, [])
            line.append(ticket)
        try:
            while True:
                with self._condition:
                    if self.stop.is_set():
                        raise Stopped("the server is shutting down; nothing was measured")
                    ahead = line.index(ticket)
                    if ahead == 0:
                        break
                if on_wait:
                    on_wait(ahead)  # outside the lock: in a stopped script it raises
                with self._condition:
                    if line.index(ticket) == ahead:
                        self._condition.wait(WAIT_POLL_SECONDS)
            yield time.perf_counter() - started
        finally:
            with self._condition:
                line.remove(ticket)
                self._condition.notify_all()

    def shut_down(self, timeout: float = SHUTDOWN_WAIT_SECONDS) -> bool:
        """Ask every measurement to stop and wait until none runs; False if one is still running."""
        self.stop.set()
        with self._condition:
            self._condition.notify_all()
            return self._condition.wait_for(lambda: not any(self._lines.values()), timeout)


QUEUE = DeviceQueue()
atexit.register(QUEUE.shut_down)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


__all__ = ["QUEUE", "DeviceQueue", "ordinal"]
