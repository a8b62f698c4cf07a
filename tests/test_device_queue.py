"""One measurement at a time per device across sessions (ui.device_queue): requests run in
the order they came, a waiting one is told its place, a stopped one gives its place up,
and shutting down stops the running one and every waiting one."""

from __future__ import annotations

import threading
import time

import pytest

from calc.time_bound import Stopped
from ui.device_queue import DeviceQueue, ordinal

HOLD_SECONDS = 0.3


def hold(queue: DeviceQueue, device: str, seconds: float, log: list, name: str, places: dict | None = None):
    def on_wait(ahead: int) -> None:
        if places is not None:
            places.setdefault(name, []).append(ahead)

    def run() -> None:
        with queue.turn(device, on_wait):
            log.append(("start", name, time.perf_counter()))
            time.sleep(seconds)
            log.append(("end", name, time.perf_counter()))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_requests_run_alone_in_the_order_they_came():
    queue, log, places = DeviceQueue(), [], {}
    threads = []
    for name in ("first", "second", "third"):
        threads.append(hold(queue, "cpu", HOLD_SECONDS, log, name, places))
        time.sleep(0.05)  # they arrive in this order
    for thread in threads:
        thread.join(timeout=10)
    assert [(event, name) for event, name, _ in log] == [
        ("start", "first"),
        ("end", "first"),
        ("start", "second"),
        ("end", "second"),
        ("start", "third"),
        ("end", "third"),
    ]
    assert "first" not in places  # never waited
    assert places["second"][0] == 1 and places["third"][0] == 2  # 2nd and 3rd in line
    assert places["third"][-1] == 1  # moved up when the first was done
    assert queue.waiting("cpu") == 0


def test_devices_do_not_wait_for_each_other():
    queue, log = DeviceQueue(), []
    threads = [hold(queue, "cpu", HOLD_SECONDS, log, "cpu"), hold(queue, "cuda:0", HOLD_SECONDS, log, "cuda")]
    for thread in threads:
        thread.join(timeout=10)
    starts = sorted(at for event, _, at in log if event == "start")
    assert starts[1] - starts[0] < HOLD_SECONDS


def test_a_request_stopped_while_waiting_gives_its_place_up():
    # a rerun or a closed tab raises in the wait's redraw: the request leaves the line
    queue, log = DeviceQueue(), []
    holder = hold(queue, "cpu", 2 * HOLD_SECONDS, log, "holder")
    time.sleep(0.05)

    class Rerun(Exception):
        pass

    def on_wait(ahead: int) -> None:
        raise Rerun()

    with pytest.raises(Rerun), queue.turn("cpu", on_wait):
        pass
    assert queue.waiting("cpu") == 1  # only the holder
    holder.join(timeout=10)
    assert queue.waiting("cpu") == 0


def test_a_failed_measurement_frees_the_device():
    queue = DeviceQueue()
    with pytest.raises(RuntimeError), queue.turn("cpu"):
        raise RuntimeError("out of memory")
    with queue.turn("cpu") as waited:
        assert waited < HOLD_SECONDS


def test_shutting_down_stops_the_waiting_and_waits_for_the_running():
    queue, log = DeviceQueue(), []
    stopped = []

    def running() -> None:
        with queue.turn("cpu"):
            while not queue.stop.is_set():  # a measurement checks the stop request between forwards
                time.sleep(0.01)
            log.append("running one stopped")

    def waiting() -> None:
        try:
            with queue.turn("cpu"):
                log.append("waiting one ran")
        except Stopped:
            stopped.append(True)

    threads = [threading.Thread(target=running), threading.Thread(target=waiting)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    assert queue.shut_down(timeout=5) is True
    for thread in threads:
        thread.join(timeout=5)
    assert log == ["running one stopped"] and stopped == [True]


@pytest.mark.parametrize(
    "n, text",
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (111, "111th"),
    ],
)
def test_ordinal(n, text):
    assert ordinal(n) == text
