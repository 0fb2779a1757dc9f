"""The machine's load around a window: per-core saturation, and CPU used outside the
benchmark's process tree, which marks a window to be measured again."""

from __future__ import annotations

import subprocess
import sys
from collections import namedtuple

import psutil
import pytest

from bench.load import (
    LoadMonitor,
    LoadSample,
    ProcessCpu,
    core_busy_percent,
    descendants,
    outside_cpu_s,
    saturation_share,
    summarize,
)
from tests.harness import wait_for

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait guest guest_nice")


def test_a_core_is_saturated_in_the_seconds_at_or_above_95_percent() -> None:
    samples = [
        LoadSample(1.0, [95.0, 20.0], 0.0),
        LoadSample(1.0, [94.9, 100.0], 0.0),
        LoadSample(2.0, [100.0, 50.0], 0.0),  # a longer period weighs more
    ]
    assert saturation_share(samples, 0) == pytest.approx(0.75)
    assert saturation_share(samples, 1) == pytest.approx(0.25)
    assert saturation_share([], 0) == 0.0


def test_the_summary_puts_saturation_beside_the_mean() -> None:
    """A core 70 % busy on average can be saturated for half the window."""
    samples = [LoadSample(1.0, [100.0, 40.0], 0.0), LoadSample(1.0, [40.0, 40.0], 0.0)]
    load = summarize(samples, [70.0, 40.0], 2.0)
    assert load.core_mean_percent == [70.0, 40.0]
    assert load.core_saturated_share == [0.5, 0.0]


@pytest.mark.parametrize(
    ("outside", "disturbed"), [([0.0, 0.2], False), ([0.1, 0.1], False), ([0.0, 0.3], True)]
)
def test_a_window_is_disturbed_when_the_outside_used_over_a_tenth_of_a_core(
    outside: list[float], disturbed: bool
) -> None:
    samples = [LoadSample(1.0, [50.0], cores) for cores in outside]
    load = summarize(samples, [50.0], 2.0)
    assert load.outside_cores == pytest.approx(sum(outside) / 2)
    assert load.outside_peak_cores == max(outside)
    assert load.disturbed is disturbed
    assert load.as_dict()["disturbed"] is disturbed


def test_outside_cpu_leaves_out_the_benchmarks_own_tree() -> None:
    before = {
        1: ProcessCpu(0, 100.0, 5.0),  # init
        10: ProcessCpu(1, 200.0, 1.0),  # the benchmark
        11: ProcessCpu(10, 210.0, 3.0),  # its manager
        20: ProcessCpu(1, 150.0, 7.0),  # someone else's test run
        30: ProcessCpu(1, 160.0, 9.0),  # ends, and its pid is reused
    }
    after = {
        1: ProcessCpu(0, 100.0, 5.1),
        10: ProcessCpu(1, 200.0, 1.5),
        11: ProcessCpu(10, 210.0, 4.0),
        12: ProcessCpu(11, 1000.5, 0.9),  # a worker the manager started meanwhile
        20: ProcessCpu(1, 150.0, 7.6),
        30: ProcessCpu(1, 1000.2, 0.2),  # new since the first snapshot: all of it counts
        40: ProcessCpu(1, 500.0, 50.0),  # old, but not seen before: nothing to compare
    }
    own = descendants(10, after)
    assert own == {10, 11, 12}
    assert outside_cpu_s(before, after, own, since=1000.0) == pytest.approx(0.1 + 0.6 + 0.2)


def test_core_busy_percent_counts_everything_but_idle_and_iowait() -> None:
    before = [CpuTimes(10.0, 0.0, 5.0, 80.0, 5.0, 0.0, 0.0)]
    after = [CpuTimes(40.0, 0.0, 15.0, 120.0, 15.0, 10.0, 0.0)]  # guest is inside user
    assert core_busy_percent(before, after) == pytest.approx([100.0 * 40 / 90])


def test_a_busy_process_outside_the_tree_is_seen() -> None:
    """A process this test starts, left to init by a shell that exits, is outside."""
    busy = "import time\nend = time.monotonic() + 5\nwhile time.monotonic() < end: pass"
    shell = subprocess.run(
        ["sh", "-c", f'{sys.executable} -c "{busy}" >/dev/null 2>&1 & echo $!'],
        capture_output=True,
        text=True,
        timeout=10,
    )
    orphan = psutil.Process(int(shell.stdout.split()[0]))
    try:
        wait_for(lambda: orphan.ppid() != psutil.Process().pid, 5, "the busy process orphaned")
        with LoadMonitor(every_s=0.5) as monitor:
            monitor.hold(1.2)
        load = monitor.summary()
        assert load.outside_cores > 0.3 and load.disturbed  # one core, shared with others
    finally:
        orphan.kill()
