"""Camera workers as Ray actors, placed across a cluster (`cashwatch run --ray ADDRESS`).

The only module that imports Ray. Each enabled camera becomes one actor asking for
`[ray] cpus_per_camera` CPUs (plus `gpus_per_camera` GPUs when the model runs on CUDA),
placed on the node whose `[ray] site_label` names the camera's site.

Who restarts a dead actor: the manager, never Ray. Actors are created with
`max_restarts=0`; a crash, a kill or a lost node ends the actor, the next poll raises,
and the manager's supervisor books the failure and starts a new actor after the same
back-off as a local worker (Ray places it on a node that is still up). One restart
policy, one restart count, one status message; Ray restarting on its own as well would
fight the supervisor's back-off and hide crash loops from it.

Status and frames: the manager keeps at most one `poll` call outstanding per actor;
each returns the latest status and, if newer than the last one taken, the latest
frame as a JPEG. A slow actor or link skips frames; nothing queues up.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayError
from ray.util.scheduling_strategies import (
    DoesNotExist,
    Exists,
    In,
    NodeLabelSchedulingStrategy,
    NotIn,
)

from cashwatch.config import CameraConfig, ModelConfig, RayConfig
from cashwatch.manager.runners import RunnerUnavailable
from cashwatch.manager.supervisor import MonitoredWorker
from cashwatch.manager.workers import LaunchSettings, new_spec
from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.status import StatusTable, WorkerStatus
from cashwatch.util.log_lines import camera_origin
from cashwatch.worker.actor import CameraActor
from cashwatch.worker.base import install_masking_log
from cashwatch.worker.log_pipe import LineBuffer, hand_on
from cashwatch.worker.memory import worker_malloc_env
from cashwatch.worker.publish import LiveUpdate, decode_live_frame
from cashwatch.worker.spec import WorkerSpec, seal_source

log = logging.getLogger("cashwatch.manager.ray")

POLL_WAIT_S = 0.05  # the manager loop waits at most this for replies, then moves on
ACTOR_STOP_S = 30.0  # the actor's own bound on stopping; the manager kills it sooner
LAST_LINES_S = 2.0  # for the lines an actor logged while stopping


class _RayCameraActor(CameraActor):
    """A camera actor that names its Ray node (host/node id), since hosts can repeat."""

    def __init__(self, spec: WorkerSpec) -> None:
        # log_to_driver copies this process' stderr into the manager's output as it is:
        # every log line and traceback (an uncaught one too) is masked before it leaves.
        # The same lines, kept for the polls, reach the manager's log file.
        lines = LineBuffer()
        install_masking_log(f"actor:{spec.camera.get('id', '?')}", lines)
        node_id = ray.get_runtime_context().get_node_id()
        super().__init__(spec, node=f"{socket.gethostname()}/{node_id[:8]}", log_lines=lines)
        logging.getLogger("cashwatch.worker").info(
            "camera %s: actor started (pid %d) on %s",
            spec.camera.get("id", "?"),
            os.getpid(),
            self.node,
        )


class ActorStop:
    """`stop_event.set()` for an actor: asks it to stop and flush its clips."""

    def __init__(self, process: ActorProcess) -> None:
        self.process = process

    def set(self) -> None:
        self.process.request_stop()


class ActorProcess:
    """A camera actor seen through the part of `multiprocessing.Process` supervision uses.

    Liveness comes from the polls (`RayRunner.relay`), not from extra calls: the actor is
    alive until a poll says it ended or Ray says it died.
    """

    def __init__(self, actor: Any, camera_id: str) -> None:
        self.actor = actor
        self.camera_id = camera_id
        self.pid: int | None = None  # learnt from the first poll, once Ray has placed it
        self.node = ""
        self.exitcode: int | None = None
        self.exit_reason = ""
        self.frame_no = 0
        self.boxes_ts = 0.0
        self.poll_ref: Any = None
        self.stop_ref: Any = None

    def is_alive(self) -> bool:
        return self.exitcode is None

    def request_stop(self) -> None:
        if self.exitcode is None and self.stop_ref is None:
            self.stop_ref = self.actor.stop.remote(ACTOR_STOP_S)

    def join(self, timeout: float | None = None) -> None:
        if self.exitcode is not None or self.stop_ref is None:
            return
        ready, _ = ray.wait([self.stop_ref], timeout=timeout)
        if not ready:
            return
        try:
            code = int(ray.get(ready[0]))
        except RayError as exc:
            code, self.exit_reason = 1, f"failed while stopping ({type(exc).__name__})"
        self._hand_on_last_lines()
        self.ended(code)

    def _hand_on_last_lines(self) -> None:
        # the polls stopped with the stop request: what the actor logged while stopping
        # (clips flushed, the journal closed) is fetched once more before it is killed
        try:
            lines = ray.get(self.actor.take_log_lines.remote(), timeout=LAST_LINES_S)
        except (RayError, TimeoutError):
            return  # the actor is gone or hung: its lines stay in Ray's own log files
        hand_on(lines, camera_origin(self.camera_id), self.pid or 0)

    def ended(self, code: int, reason: str = "") -> None:
        """The actor is done: remember why and give its resources back to the cluster."""
        self.exitcode = code
        self.exit_reason = self.exit_reason or reason
        ray.kill(self.actor, no_restart=True)

    def terminate(self) -> None:
        self.kill()

    def kill(self) -> None:
        if self.exitcode is None:
            self.ended(-9, "killed by the manager")

    def close(self) -> None:
        if self.exitcode is None:
            raise ValueError(f"actor of {self.camera_id} is still running")


def actor_options(camera: CameraConfig, model: ModelConfig, config: RayConfig) -> dict[str, Any]:
    """Ray options of one camera's actor: resources, no Ray restarts, site placement, and
    the malloc settings of a local worker.

    >>> actor_options(camera, model, RayConfig())["num_cpus"]      # doctest: +SKIP
    1.0
    """
    options: dict[str, Any] = {
        "num_cpus": config.cpus_per_camera,
        "max_restarts": 0,
        "max_task_retries": 0,
        # as a local worker: Ray starts the actor's process with these
        "runtime_env": {"env_vars": worker_malloc_env()},
    }
    if model.backend == "torch" and model.device.startswith("cuda"):
        options["num_gpus"] = config.gpus_per_camera  # decoding still needs the CPUs
    if config.site_placement != "off" and camera.site:
        wanted: dict[str, In | NotIn | Exists | DoesNotExist] = {config.site_label: In(camera.site)}
        options["scheduling_strategy"] = (
            NodeLabelSchedulingStrategy(hard=wanted)
            if config.site_placement == "require"
            else NodeLabelSchedulingStrategy(hard={}, soft=wanted)
        )
    return options


def relayed_status(update: LiveUpdate, now: float) -> WorkerStatus:
    """A polled worker record, its heartbeat put on the manager's clock (none yet: 0, so
    readers keep the manager's own sign of the run)."""
    heartbeat = (
        now - max(0.0, update.heartbeat_age_s) if math.isfinite(update.heartbeat_age_s) else 0.0
    )
    return dataclasses.replace(update.status, heartbeat_ts=heartbeat)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail at once, naming the address, when a host:port head does not answer: ray.init
    itself retries an unreachable head for minutes while logging only warnings."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RunnerUnavailable(
            f"--ray {address!r}: expected 'auto' or the head's host:port (e.g. 10.0.0.5:6379)"
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RunnerUnavailable(f"cannot reach the Ray head at {address}: {exc}") from exc


def check_token_auth(config: RayConfig) -> None:
    """Fail closed: a cluster without token authentication runs whatever anyone who
    reaches its port sends, the cameras' sources included. The mode alone is not
    enough: without a token to present, the manager is not the one authenticated."""
    if not config.require_token:
        return
    problem = (
        "RAY_AUTH_MODE is not token"
        if os.environ.get("RAY_AUTH_MODE", "").lower() != "token"
        else token_problem()
    )
    if problem:
        raise RunnerUnavailable(
            f"--ray needs Ray token authentication ({problem}): start every node and the "
            "manager with RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN, or "
            "a file named by RAY_AUTH_TOKEN_PATH, else ~/.ray/auth_token), see "
            "docs/deployment.md, 'Securing the cluster'; only for a cluster nobody else "
            "reaches, set [ray] require_token = false"
        )


def token_problem() -> str:
    """Why this process has no token to present ('' when it has one), in Ray's order:
    RAY_AUTH_TOKEN, then the file RAY_AUTH_TOKEN_PATH names, then ~/.ray/auth_token.
    A path that is set but unreadable does not fall back: it is a mistake to report."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return ""
    named = os.environ.get("RAY_AUTH_TOKEN_PATH", "")
    path = Path(named).expanduser() if named else Path.home() / ".ray" / "auth_token"
    try:
        if path.read_text(encoding="utf-8").strip():
            return ""
        return f"the token file {path} is empty"
    except (OSError, UnicodeDecodeError) as exc:  # the path is no secret, its text is
        return f"no token readable: {path} ({type(exc).__name__})"


class RayRunner:
    local_processes = False

    def __init__(self, address: str, config: RayConfig, config_path: str = "") -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # stay offline
        self.config = config
        self.config_path = config_path  # where nodes look first for a camera's source
        check_token_auth(config)
        check_reachable(address)
        # log_to_driver: actors' stderr lands in the manager's console; their log lines
        # reach its log file with the polls (_take_reply)
        ray.init(
            address=address,
            namespace="cashwatch",
            logging_level=logging.WARNING,
            log_to_driver=True,
        )
        self._actor_class = ray.remote(_RayCameraActor)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        log.info(
            "connected to Ray at %s: %d node(s), %s CPUs",
            address,
            len(nodes),
            ray.cluster_resources().get("CPU", 0),
        )

    def spawn(self, worker: MonitoredWorker, core: int | None, launch: LaunchSettings) -> None:
        # credentials stay out of the pickled spec: the node reads them (worker/spec.py)
        spec = seal_source(new_spec(worker, launch), self.config_path)
        options = actor_options(worker.camera, launch.model, self.config)
        actor = self._actor_class.options(**options).remote(spec)
        process = ActorProcess(actor, worker.camera.id)
        worker.process, worker.stop_event, worker.core = process, ActorStop(process), None
        worker.started_at, worker.started_mono = time.time(), time.monotonic()

    def node_of(self, worker: MonitoredWorker) -> str:
        process = worker.process
        return process.node if isinstance(process, ActorProcess) else ""

    def relay(
        self,
        workers: Iterable[MonitoredWorker],
        status: StatusTable,
        slots: Mapping[int, FrameSlot],
    ) -> None:
        pending: dict[Any, MonitoredWorker] = {}
        for worker in workers:
            process = worker.process
            if (
                not isinstance(process, ActorProcess)
                or not process.is_alive()
                or process.stop_ref is not None
            ):
                continue
            if process.poll_ref is None:  # one call in flight per actor: latest-only
                process.poll_ref = process.actor.poll.remote(process.frame_no)
            pending[process.poll_ref] = worker
        if not pending:
            return
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_WAIT_S)
        now = time.time()
        for ref in ready:
            worker = pending[ref]
            self._take_reply(worker, ref, now, status, slots)
        for worker in pending.values():
            process = worker.process
            if isinstance(process, ActorProcess) and process.pid is None and process.is_alive():
                # Not placed yet (no node with room): alive, so no hang; say why it waits.
                status.update_manager(
                    worker.slot,
                    heartbeat_ts=now,
                    state="starting",
                    error="waiting for Ray to place it on a node",
                )

    def _take_reply(
        self,
        worker: MonitoredWorker,
        ref: Any,
        now: float,
        status: StatusTable,
        slots: Mapping[int, FrameSlot],
    ) -> None:
        process = worker.process
        assert isinstance(process, ActorProcess)
        process.poll_ref = None
        try:
            reply: tuple[LiveUpdate, int | None, list[bytes]] = ray.get(ref)
            update, exit_code, log_lines = reply
        except ActorUnavailableError:
            return  # a transient network problem; the heartbeat decides if it lasts
        except RayActorError as exc:
            process.ended(-9, f"Ray actor died ({type(exc).__name__}: node lost or process killed)")
            return
        hand_on(log_lines, camera_origin(worker.camera.id), int(update.pid or process.pid or 0))
        if exit_code is not None:
            # the actor's own last word (masked there): missing credentials, a crash
            reason = update.status.source_error if exit_code else ""
            process.ended(exit_code, reason)
            return
        placed_now = process.pid is None and bool(update.pid)
        process.pid = update.pid or process.pid
        process.node = update.node or process.node
        # both records from the manager's one loop: for a Ray actor it writes the worker's too
        status.write_worker(worker.slot, relayed_status(update, now))
        # once placed, "waiting for Ray to place it" is no longer true (other errors stay)
        placed = {"error": ""} if placed_now else {}
        status.update_manager(
            worker.slot,
            pid=process.pid or 0,
            node=process.node,
            cpu_percent=update.cpu_percent,
            rss_mib=update.rss_mib,
            **placed,
        )
        slot = slots.get(worker.slot)
        if slot is None:
            return
        if update.frame_jpeg is not None and update.frame_no > process.frame_no:
            slot.write(decode_live_frame(update.frame_jpeg), update.frame_no, update.frame_ts)
            process.frame_no = update.frame_no
        if update.boxes is not None and update.boxes_ts > process.boxes_ts:
            slot.write_boxes(update.boxes, update.boxes_ts)
            process.boxes_ts = update.boxes_ts

    def close(self) -> None:
        ray.shutdown()  # actors the manager owns end with it
