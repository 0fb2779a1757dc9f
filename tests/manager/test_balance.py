"""Evening out the cores: which worker moves (a pure choice), and a real measurement of
real processes pinned to one core."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from cashwatch.manager import balance
from cashwatch.manager.balance import Balancer, Move, choose_move
from cashwatch.manager.placement import pin
from tests.harness import ManagerProcess, camera_entry, wait_for, write_config


def test_the_worker_that_evens_the_cores_best_moves_to_the_idlest() -> None:
    # 19 points apart: moving 8 leaves 3, moving 3 leaves 13, moving 12 leaves 5
    workers = {"a": (0, 8.0), "b": (0, 3.0), "c": (0, 12.0), "d": (1, 8.0)}
    assert choose_move({0: 91.0, 1: 72.0}, workers) == Move("a", 0, 1)
    assert choose_move({0: 72.0, 1: 91.0}, workers) == Move("d", 1, 0)
    three_cores = {0: 95.0, 1: 90.0, 2: 40.0}
    assert choose_move(three_cores, {"a": (0, 20.0), "b": (1, 20.0)}) == Move("a", 0, 2)


@pytest.mark.parametrize(
    ("core_load", "workers", "why"),
    [
        ({0: 91.0, 1: 84.0}, {"a": (0, 3.0)}, "7 points apart: even enough"),
        ({0: 55.0, 1: 5.0}, {"a": (0, 5.0)}, "the busiest core has room for a burst"),
        ({0: 95.0, 1: 80.0}, {"a": (0, 15.0)}, "it would only swap the cores' roles"),
        ({0: 95.0, 1: 80.0}, {"a": (0, 13.0)}, "15 points apart, 11 after: noise"),
        ({0: 95.0, 1: 40.0}, {"a": (1, 5.0)}, "no worker on the busiest core"),
        ({0: 95.0, 1: 40.0}, {"a": (0, 0.0)}, "a worker not measured yet"),
        ({0: 95.0}, {"a": (0, 5.0)}, "one core"),
    ],
)
def test_nothing_moves_when_no_move_helps(
    core_load: dict[int, float], workers: dict[str, tuple[int, float]], why: str
) -> None:
    assert choose_move(core_load, workers) is None, why


def _spin(stop: Any) -> None:  # a multiprocessing Event
    # a second thread, started before any move, as a worker's reader thread is
    waiter = threading.Thread(target=stop.wait, daemon=True)
    waiter.start()
    while not stop.is_set():
        pass


def _thread_cores(pid: int) -> dict[int, set[int]]:
    """Every thread's cores: Linux keeps an affinity per thread."""
    return {t.id: os.sched_getaffinity(t.id) for t in psutil.Process(pid).threads()}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to balance")
def test_two_busy_processes_on_one_core_are_spread_over_two() -> None:
    cores = sorted(os.sched_getaffinity(0))[:2]
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(2)]
    for process in spinners:
        process.start()
    try:
        running = {f"cam{i}": (p.pid or 0, cores[0]) for i, p in enumerate(spinners)}
        for pid, core in running.values():
            assert pin(pid, core)
        balancer = Balancer(cores, every_s=1.0)
        deadline = time.monotonic() + 10.0
        move = None
        while move is None and time.monotonic() < deadline:
            move = balancer.step(running)
            time.sleep(0.1)  # polling: a period must pass
        assert move is not None and move.from_core == cores[0] and move.to_core == cores[1]
        pid = running[move.camera_id][0]
        assert pin(pid, move.to_core)
        threads = _thread_cores(pid)
        assert len(threads) == 2 and all(c == {move.to_core} for c in threads.values()), threads
        running[move.camera_id] = (pid, move.to_core)
        # one process per core now: the next periods move nothing back
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            assert balancer.step(running) is None
            time.sleep(0.1)
    finally:
        stop.set()
        for process in spinners:
            process.join(5)
            if process.is_alive():
                process.kill()


def test_a_moved_worker_rests_before_it_may_move_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # measurements that do not change after a move (as if it had not helped yet): the
    # worker stays put for REST_PERIODS periods, then may move again
    busy = {0: 0.0, 1: 0.0}
    cpu = {"a": 0.0, "b": 0.0}

    def tick() -> None:  # one period: core 0 at 90 %, core 1 at 50 %, each worker 10 %
        busy[0] += 0.9
        busy[1] += 0.5
        for camera_id in cpu:
            cpu[camera_id] += 0.1

    monkeypatch.setattr(balance, "busy_seconds", lambda: dict(busy))
    pids = {101: "a", 102: "b"}
    monkeypatch.setattr(balance, "_cpu_seconds", lambda pid: ((pid, 0.0), cpu[pids[pid]]))
    clock = [0.0]
    monkeypatch.setattr(balance.time, "monotonic", lambda: clock[0])
    balancer = Balancer([0, 1], every_s=1.0)
    running = {"a": (101, 0), "b": (102, 0)}

    def period() -> Move | None:
        tick()
        clock[0] += 1.0
        return balancer.step(running)

    assert not balancer.due()
    assert period() is None  # the workers' first period: not measured yet
    # core 0's use includes workers not measured yet: no figure of what else runs there
    assert balancer.other_load == pytest.approx({0: 0.0, 1: 50.0})
    first = period()
    assert first is not None and first.to_core == 1
    other = "b" if first.camera_id == "a" else "a"
    # the moved worker's core is not updated here: it stays the busiest core's candidate
    moves = [period() for _ in range(balance.REST_PERIODS + 1)]
    assert moves[0] == Move(other, 0, 1), "the other worker may move, the moved one rests"
    assert moves[1 : balance.REST_PERIODS] == [None] * (balance.REST_PERIODS - 1)
    assert moves[balance.REST_PERIODS] == Move(first.camera_id, 0, 1)
    assert balancer.other_load == pytest.approx({0: 70.0, 1: 50.0})


def test_busy_seconds_are_read_by_cpu_number(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    ticks = balance.CLOCK_TICKS
    # cpu1 offline: the kernel lists cpu0 and cpu2 only; guest (9th) is in user already
    stat.write_text(
        f"cpu  {3 * ticks} 0 0 {9 * ticks} 0 0 0 0 0 0\n"
        f"cpu0 {ticks} 0 {ticks} {4 * ticks} {ticks} 0 0 0 {ticks} 0\n"
        f"cpu2 {ticks} 0 0 {5 * ticks} 0 0 0 {ticks} 0 0\n"
        "intr 12345\n"
    )
    assert balance.busy_seconds(stat) == {0: pytest.approx(2.0), 2: pytest.approx(2.0)}
    assert balance.busy_seconds(tmp_path / "missing") == {}


def test_a_period_of_zero_moves_nothing() -> None:
    balancer = Balancer([0, 1], every_s=0.0)
    assert balancer.step({"cam0": (os.getpid(), 0)}) is None


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to balance")
def test_the_manager_moves_a_camera_off_a_core_that_something_else_fills(
    tmp_path: Path, make_video: Any
) -> None:
    # a camera pinned to a core that another program saturates moves to the free one,
    # and its status says where it runs now
    video = make_video("a.avi", seconds=2, size_wh=(1280, 720))  # a few % of a core
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("cam-a", video)],
        manager={"balance_every_s": 1.0},
    )
    stop = multiprocessing.Event()
    hog = multiprocessing.Process(target=_spin, args=(stop,))
    with ManagerProcess(config) as manager:
        record = manager.wait_state("cam-a", "running")
        first_core = record["core"]
        hog.start()
        try:
            assert pin(hog.pid or 0, first_core)
            moved = wait_for(
                lambda: (r := manager.worker("cam-a"))["core"] != first_core and r,
                20,
                "cam-a to leave the core the hog fills",
            )
            threads = _thread_cores(moved["pid"])  # the reader (decoding) thread too
            assert len(threads) > 1 and all(c == {moved["core"]} for c in threads.values())
            assert moved["pid"] == record["pid"], "moved while running, not restarted"
            assert f"camera cam-a: moved from core {first_core} to core" in manager.log()
        finally:
            stop.set()
            hog.join(5)
            if hog.is_alive():
                hog.kill()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to move")
def test_a_pinned_worker_takes_its_clip_encoder_along() -> None:
    """A worker's children (its clip encoders) move with it, every thread of them."""
    cores = sorted(os.sched_getaffinity(0))[:2]
    spawn_child = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "child.wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", spawn_child], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    try:
        for core in (cores[1], cores[0]):
            assert pin(parent.pid, core)
            for pid in (parent.pid, child_pid):
                assert all(c == {core} for c in _thread_cores(pid).values()), (pid, core)
    finally:
        os.kill(child_pid, signal.SIGKILL)
        parent.wait(10)
