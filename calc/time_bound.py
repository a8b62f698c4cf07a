"""The wall-clock bound of a whole measurement (probe, build, warm-up, timing), and the
request to stop it early (the server shutting down, the user leaving).

Long work checks the bound between its steps, never inside one: a forward pass or a
matmul cannot be interrupted, so each step is refused beforehand when its predicted time
does not fit in what is left.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from calc.errors import SpecError


class Stopped(SpecError):
    """The measurement was asked to stop; nothing it timed is kept."""


@dataclass(frozen=True)
class TimeBound:
    seconds: float  # the whole bound, as promised to the user
    end: float  # time.perf_counter() at which it runs out
    stop: threading.Event = field(default_factory=threading.Event, compare=False)

    @classmethod
    def starting_now(cls, seconds: float, stop: threading.Event | None = None) -> TimeBound:
        return cls(seconds, time.perf_counter() + seconds, stop if stop is not None else threading.Event())

    def left(self) -> float:
        return self.end - time.perf_counter()

    def check(self) -> None:
        if self.stop.is_set():
            raise Stopped("the measurement was stopped (the server is shutting down); nothing was kept")

    def fits(self, seconds: float) -> bool:
        """Whether a step predicted to take ``seconds`` ends within the bound."""
        self.check()
        return seconds <= self.left()


__all__ = ["Stopped", "TimeBound"]
