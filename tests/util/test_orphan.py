"""A helper child (a model exporter) ends when the process that started it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil

from tests.harness import wait_for

# A parent that starts a child calling exit_with_parent, says the child's pid, and waits.
PARENT = """
import subprocess, sys
from cashwatch.util.orphan import parent_environment
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], env=parent_environment())
print(child.pid, flush=True)
child.wait()
"""
CHILD = """
import threading
from cashwatch.util.orphan import exit_with_parent
exit_with_parent(0.05)
threading.Event().wait(120)  # an export that would run on for minutes
"""


def test_a_child_exits_once_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        assert child.is_running() and child.ppid() == parent.pid
        # at once: the child may not have reached exit_with_parent yet (its imports)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        wait_for(
            lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE,
            10,
            "the orphaned child to exit",
        )
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def test_a_child_whose_parent_lives_runs_on() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        # 20 of its checks: the watcher must not take a living parent for a gone one
        assert not psutil.wait_procs([child], timeout=1.0)[0]
        assert child.is_running() and child.ppid() == parent.pid
    finally:
        parent.kill()
        parent.wait(10)
        wait_for(lambda: not child.is_running(), 10, "the child to follow its parent")
