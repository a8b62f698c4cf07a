"""calc.torch_rounds: ops are timed in turn, each between the others (as a model runs its layers),
each keeps its median and best rounds, and the time bound holds."""

from __future__ import annotations

import time

import pytest
from torch import nn

from calc.time_bound import Stopped, TimeBound
from calc.torch_rounds import MIN_ROUNDS, WARMUP_ROUNDS, time_in_rounds


class Logged(nn.Module):
    """Appends its name to a shared log on each call, after waiting ``seconds``."""

    def __init__(self, name: str, log: list[str], seconds: float = 0.0):
        super().__init__()
        self.name, self.log, self.seconds = name, log, seconds

    def forward(self, x):
        self.log.append(self.name)
        if self.seconds:
            time.sleep(self.seconds)
        return x


def test_each_op_runs_between_the_others():
    log: list[str] = []
    modules = [Logged("a", log), Logged("b", log), Logged("c", log)]
    timing = time_in_rounds(modules, [(4,)] * 3, "cpu", "fp32", TimeBound.starting_now(10.0), max_rounds=4)
    assert timing.rounds == 4
    assert log == ["a", "b", "c"] * (WARMUP_ROUNDS + 4)  # never the same op twice in a row


def test_each_op_keeps_its_best_round():
    log: list[str] = []
    modules = [Logged("fast", log), Logged("slow", log, seconds=0.004)]
    timing = time_in_rounds(modules, [(4,), (4,)], "cpu", "fp32", TimeBound.starting_now(10.0), max_rounds=3)
    fast, slow = timing.best_s
    assert 0.004 <= slow < 0.004 + 0.05  # the sleep, and little more at its best
    assert fast < slow


class Slowed(nn.Module):
    """Waits the next of ``seconds`` on each call (the warm-up's call included)."""

    def __init__(self, seconds: list[float]):
        super().__init__()
        self.seconds = iter(seconds)

    def forward(self, x):
        time.sleep(next(self.seconds))
        return x


def test_an_op_descheduled_in_one_round_keeps_its_median():
    # rounds of 2, 2, 30 (a scheduler slice), 2, 2 ms after a warm-up: the median is 2 ms, the mean 7.6
    waits = [0.002] * WARMUP_ROUNDS + [0.002, 0.002, 0.03, 0.002, 0.002]
    timing = time_in_rounds(
        [Slowed(waits)], [(4,)], "cpu", "fp32", TimeBound.starting_now(10.0), max_rounds=5
    )
    (median,), (best,) = timing.median_s, timing.best_s
    assert timing.rounds == 5
    assert 0.002 <= best <= median < 0.002 + 0.01


def test_the_rounds_stop_when_the_next_would_not_fit():
    log: list[str] = []
    modules = [Logged("slow", log, seconds=0.01)]
    started = time.perf_counter()
    timing = time_in_rounds(modules, [(4,)], "cpu", "fp32", TimeBound.starting_now(0.1), max_rounds=100)
    assert time.perf_counter() - started < 0.1 + 0.05
    assert MIN_ROUNDS <= timing.rounds < 10  # 10 ms a round, 2 of them warm-up, in 0.1 s


def test_an_op_the_bound_never_reached_has_no_time():
    log: list[str] = []
    modules = [Logged("slow", log, seconds=0.03), Logged("never", log)]
    timing = time_in_rounds(modules, [(4,), (4,)], "cpu", "fp32", TimeBound.starting_now(0.02))
    assert timing.best_s == (None, None) and timing.rounds == 0


def test_a_first_round_runs_within_the_wider_bound_when_its_share_is_spent():
    log: list[str] = []
    modules = [Logged("slow", log, seconds=0.03), Logged("fast", log)]
    share, whole = TimeBound.starting_now(0.02), TimeBound.starting_now(10.0)
    timing = time_in_rounds(modules, [(4,), (4,)], "cpu", "fp32", share, first_round_bound=whole)
    assert timing.rounds == 1 and None not in timing.best_s  # one round, then the share stops it


def test_a_stop_request_stops_the_rounds():
    bound = TimeBound.starting_now(10.0)
    bound.stop.set()
    with pytest.raises(Stopped):
        time_in_rounds([nn.Identity()], [(4,)], "cpu", "fp32", bound)
