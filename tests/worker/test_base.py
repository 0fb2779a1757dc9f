"""What the worker base sets up in a process of its own: title, niceness, environment."""

from __future__ import annotations

import multiprocessing as mp
import os
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent

import psutil
import pytest

from cashwatch.worker.base import (
    SPAWN_ENV,
    WORKER_ENV_DEFAULTS,
    ProcessSetup,
    enter_worker_process,
)

_CTX = mp.get_context("spawn")


def _set_up_and_wait(setup: ProcessSetup, report: Connection, done: MpEvent) -> None:
    enter_worker_process(setup)
    report.send({name: os.environ.get(name) for name in WORKER_ENV_DEFAULTS})
    done.wait(30)


def test_a_worker_process_is_titled_reniced_and_given_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SPAWN_ENV.items():  # as the manager spawns it
        monkeypatch.setenv(name, value)
    reader, writer = _CTX.Pipe(duplex=False)
    done = _CTX.Event()
    setup = ProcessSetup(camera_id="a-camera-id-of-32-characters-xyz", nice_increment=3)
    process = _CTX.Process(target=_set_up_and_wait, args=(setup, writer, done))
    process.start()
    try:
        assert reader.poll(30), "the child reports once it is set up"
        assert reader.recv() == WORKER_ENV_DEFAULTS
        child = psutil.Process(process.pid)
        assert child.name() == "cashwatch:a-camera-id-of-32-characters-xyz"
        assert child.cmdline()[0] == "cashwatch:a-camera-id-of-32-characters-xyz"
        with open(f"/proc/{process.pid}/comm") as comm:
            assert comm.read().strip() == "cashwatch:a-cam"  # the kernel keeps 15 bytes
        assert child.nice() == psutil.Process().nice() + 3
        # the title took the arguments' memory only: what it started with is still shown
        assert child.environ().get("SPT_NOENV") == "1"
    finally:
        done.set()
        process.join(30)
