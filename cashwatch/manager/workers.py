"""Starting and stopping local worker processes (spawn, pin, three-step stop)."""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path

from cashwatch.config import ModelConfig
from cashwatch.manager.placement import pin
from cashwatch.manager.supervisor import MonitoredWorker
from cashwatch.util.log_lines import camera_origin
from cashwatch.worker.base import set_spawn_environment, worker_main
from cashwatch.worker.log_pipe import LogRelay
from cashwatch.worker.memory import set_worker_malloc
from cashwatch.worker.spec import WorkerSpec

# spawn: a fresh interpreter per camera, no inherited locks, threads or model state
_CTX = mp.get_context("spawn")


@dataclass(frozen=True)
class LaunchSettings:
    """What every worker of this manager gets, wherever it runs."""

    model: ModelConfig
    data_dir: Path
    manager_pid: int  # 0 for workers that are not the manager's children (Ray actors)
    live_every_n: int
    storage_url: str = ""
    inference_sockets: tuple[str, ...] = ()  # the shared services; () loads its own model
    input_slot: str = ""  # the camera's model input segment, with shared services
    video_slot: str = ""  # its video window's segment, for the verified violence method


def new_spec(worker: MonitoredWorker, launch: LaunchSettings) -> WorkerSpec:
    """A fresh run id and the spec of the worker's next run."""
    worker.run_id, worker.run_open = uuid.uuid4().hex, True
    return WorkerSpec(
        camera=worker.camera.model_dump(mode="json"),
        model=launch.model.model_dump(mode="json"),
        data_dir=str(launch.data_dir),
        slot=worker.slot,
        manager_pid=launch.manager_pid,
        live_every_n=launch.live_every_n,
        run_id=worker.run_id,
        storage_url=launch.storage_url,
        inference_sockets=launch.inference_sockets,
        input_slot=launch.input_slot,
        video_slot=launch.video_slot,
    )


@dataclass
class SpawnedChild:
    """A process started by `spawn_child`, with the manager's ends of its pipes."""

    process: BaseProcess
    stop_event: MpEvent
    exit_note: Connection  # where it leaves why it exited non-zero
    relay: LogRelay  # the thread relaying its log lines into the manager's log


def spawn_child(target: Callable[..., None], spec: object, name: str, origin: str) -> SpawnedChild:
    """Spawn `target(spec, stop_event, exit_note, log_pipe)` in a fresh interpreter: a
    camera worker or an inference service, set up alike (malloc tunables, environment,
    a stop Event, one-way pipes for its exit reason and its log records)."""
    set_worker_malloc()  # inherited by the spawned interpreter
    set_spawn_environment()
    stop_event = _CTX.Event()
    # one-way pipes: the exit reason, and the log records (cashwatch.worker.log_pipe)
    note_reader, note_writer = _CTX.Pipe(duplex=False)
    log_reader, log_writer = _CTX.Pipe(duplex=False)
    process = _CTX.Process(
        target=target, args=(spec, stop_event, note_writer, log_writer), name=name, daemon=False
    )
    try:
        process.start()
    except BaseException:
        note_reader.close()
        log_reader.close()
        raise
    finally:
        note_writer.close()  # the child has its copies: their ends come with its exit
        log_writer.close()
    relay = LogRelay(log_reader, origin, process.pid or 0).start()
    return SpawnedChild(process, stop_event, note_reader, relay)


def spawn_worker(worker: MonitoredWorker, core: int, launch: LaunchSettings) -> LogRelay:
    """Start the worker's next run; returns the thread relaying its log lines to ours."""
    spec = new_spec(worker, launch)
    child = spawn_child(
        worker_main, spec, f"cashwatch.worker:{worker.camera.id}", camera_origin(worker.camera.id)
    )
    worker.process, worker.stop_event, worker.core = child.process, child.stop_event, core
    worker.exit_note = child.exit_note
    worker.started_at, worker.started_mono = time.time(), time.monotonic()
    pin(child.process.pid or 0, core)
    return child.relay


def stop_workers(workers: Iterable[MonitoredWorker], timeout_s: float) -> None:
    """Stop event, then join; terminate the late, then kill the stubborn. All at once,
    so stopping N cameras takes one timeout, not N. Works the same on Ray actors, which
    the Ray runner presents through the same process interface."""
    running = [w for w in workers if w.process is not None]
    for worker in running:
        if worker.stop_event is not None:
            worker.stop_event.set()
    for escalate in (None, "terminate", "kill"):
        deadline = time.monotonic() + (timeout_s if escalate is None else 2.0)
        for worker in running:
            process = worker.process
            assert process is not None
            if escalate and process.is_alive():
                getattr(process, escalate)()
            process.join(max(0.0, deadline - time.monotonic()))
        if not any(w.process is not None and w.process.is_alive() for w in running):
            break
    for worker in running:
        if worker.process is not None and not worker.process.is_alive():
            worker.process.close()  # frees its pipes now, not at garbage collection
        worker.process = None
        worker.stop_event = None
        if worker.exit_note is not None:  # a stop asked for needs no reason
            worker.exit_note.close()
            worker.exit_note = None
