"""The shared inference services: which to run, and their supervision (issue #28).

One service per GPU, or per group of `[model] service_cores` CPU cores, runs the
models for every camera on this machine, so a model is loaded once per service, not
once per camera. The manager starts them once a camera needs the pose model (after
the export), restarts one that exits or stops reporting (back-off 0.5 s doubling to
30 s, reset after a minute of running), publishes their supervision in the services
table and stops them last. Camera workers find them by their sockets
(cashwatch.inference.protocol.socket_path).

The video model of the violence verifier is loaded once per machine, by the first
service: the manager exports it (`prepare_video`, in its prepare-model thread, before
any service starts) when a camera's violence rule uses the verified method; the other
services answer a video request with an error that names the first.

The fire models the cameras name (`detection.fire.model`) are loaded by the first
service too (`fire_models`); a config change that names another restarts it once, on
purpose, to load it (the other services go on serving poses meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from cashwatch.config import CameraConfig, ModelConfig
from cashwatch.detect.fire_model import fire_model_path
from cashwatch.inference.protocol import VIDEO_SERVICE, socket_path
from cashwatch.manager.supervisor import describe_exit, read_exit_note
from cashwatch.manager.workers import spawn_child
from cashwatch.shm.services import MAX_SERVICES, ServiceTable
from cashwatch.util.log_lines import service_origin
from cashwatch.util.redact import mask_credentials
from cashwatch.worker.log_pipe import LogRelay
from cashwatch.worker.service import ServiceSpec, service_main

log = logging.getLogger("cashwatch.manager")

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0
HEALTHY_RUN_S = 60.0
# Loading a model (an OpenVINO compile, a CUDA context) takes seconds; a service still
# "starting" after this long is stuck.
START_LIMIT_S = 120.0
STOP_TIMEOUT_S = 5.0
NO_VERIFIED_CAMERA = "no camera used the verified violence method when the manager started"


@dataclass(frozen=True)
class ServicePlace:
    """Where one service runs: its number, its cores (CPU) or GPU."""

    index: int
    cores: tuple[int, ...]
    device: str  # "cpu 0", "cpu 2-3", "cuda:0"


def plan_services(model: ModelConfig, cores: list[int]) -> list[ServicePlace]:
    """One service per GPU (the torch backend on a CUDA device), else per core group.

    >>> [p.device for p in plan_services(ModelConfig(service_cores=2), [0, 1, 2, 3, 4])]
    ['cpu 0-1', 'cpu 2-3', 'cpu 4']
    >>> [p.device for p in plan_services(ModelConfig(backend="torch", device="cuda:1"), [0, 1])]
    ['cuda:1']
    """
    if model.device.startswith("cuda"):
        return [ServicePlace(0, tuple(cores), model.device)]
    group = model.service_cores
    places = []
    for index, start in enumerate(range(0, len(cores), group)):
        members = tuple(cores[start : start + group])
        label = str(members[0]) if len(members) == 1 else f"{members[0]}-{members[-1]}"
        places.append(ServicePlace(index, members, f"cpu {label}"))
    return places[:MAX_SERVICES]


@dataclass
class ServiceRun:
    """One service's supervision record."""

    place: ServicePlace
    process: Any = None  # multiprocessing.Process while it runs
    stop_event: Any = None
    exit_note: Any = None
    relay: LogRelay | None = None
    run_id: str = ""
    restarts: int = 0
    failures: int = 0
    next_start_mono: float = 0.0
    started_mono: float = 0.0
    last_error: str = ""
    video_model: str = ""  # the video model it was started with ("": none)
    fire_models: tuple[str, ...] = ()  # the fire models it was started with
    psutil_process: psutil.Process | None = field(default=None, repr=False)


class InferencePool:
    """The manager's shared services; `step()` once per manager loop pass."""

    def __init__(
        self, data_dir: Path, model: ModelConfig, cores: list[int], manager_pid: int
    ) -> None:
        self.data_dir = data_dir
        self.model = model
        self.manager_pid = manager_pid
        self.table = ServiceTable.create(data_dir)
        self.runs = [ServiceRun(place) for place in plan_services(model, cores)]
        self.sockets = [socket_path(data_dir, run.place.index) for run in self.runs]
        # the first service's video model (`prepare_video`), or why it has none
        self.video_model: Path | None = None
        self.no_video = NO_VERIFIED_CAMERA
        # the first service's fire models (`fire_models`), by their weights' paths
        self.fire_models: tuple[str, ...] = ()
        for run in self.runs:
            self.table.update_supervision(
                run.place.index,
                name=f"inference-{run.place.index}",
                device=run.place.device,
                state="stopped",
            )

    # the video model ------------------------------------------------------------------
    def prepare_video(self, cameras: Iterable[CameraConfig], *, export: bool = True) -> bool:
        """Find, or export, the video model if a camera's violence rule uses the verified
        method; False when it is still to be exported and `export` is False.

        The manager calls it twice. Before the services start, without exporting: a
        model exported on an earlier run is found, and the first service loads it as it
        starts. Then, only if it was not found, with `export` after the services are up,
        so pose detection need not wait for the export (seconds, minutes on a slow disk);
        the first service is then restarted once to load it (`step`), and until then the
        verified cameras' pose rule decides. A camera switched off counts: switching it
        on needs no manager restart. Without the verifier's parameters nothing is
        exported: the cameras' rules cannot use the video, and the first service is
        spared the model's memory. Any failure is logged and becomes the first service's
        answer to video requests, which the cameras show while their pose rule decides.
        """
        if not any(camera.detection.uses_video_verifier for camera in cameras):
            return True
        from cashwatch.rules.violence_verifier_model import (
            VerifierModelError,
            load_verifier_model,
        )

        try:
            load_verifier_model()
        except (VerifierModelError, OSError) as exc:
            self.no_video = f"no video model: the verifier's parameters cannot be read ({exc})"
            log.warning(
                "%s; cameras with the verified violence method use the pose rule", self.no_video
            )
            return True
        try:
            from cashwatch.detect.video_features import cached_video_model, ensure_video_model

            if not export:
                self.video_model = cached_video_model(self.data_dir)
                if self.video_model is None:  # the first service's answer meanwhile
                    self.no_video = "no video model yet: it is being exported"
                return self.video_model is not None
            self.video_model = ensure_video_model(self.data_dir)
        except Exception as exc:  # an export error's message ends with its output
            first_line = (str(exc).splitlines() or [""])[0]
            self.no_video = f"no video model: {type(exc).__name__}: {first_line}"
            log.exception("the violence verifier's video model could not be prepared")
            return True
        return True  # the first service started without it: `step` restarts it to load it

    def note_config(self, cameras: Iterable[CameraConfig]) -> None:
        """Warn when a reloaded config wants the video model that was not prepared at start."""
        if self.no_video == NO_VERIFIED_CAMERA and any(
            camera.detection.uses_video_verifier for camera in cameras
        ):
            log.warning(
                "a camera's violence rule now uses the verified method: the video model "
                "loads after a manager restart; until then its pose rule decides"
            )

    def want_fire_models(self, cameras: Iterable[CameraConfig]) -> None:
        """The fire models the cameras name become the first service's; a service
        already running without one of them is restarted to load it (`step`). A camera
        switched off counts, as for the video model: switching it on needs no restart."""
        wanted = sorted(
            {
                str(fire_model_path(weights, self.data_dir))
                for camera in cameras
                if (weights := camera.detection.fire_model) is not None
            }
        )
        self.fire_models = tuple(wanted)

    def _models_spec(self, index: int) -> dict[str, Any]:
        """The `ServiceSpec` fields of the models service `index` hosts beside the pose
        model: the video model and the fire models, for the first."""
        if index != VIDEO_SERVICE:
            return {
                "no_video": f"inference-{index} hosts no video model; "
                f"send video requests to inference-{VIDEO_SERVICE}"
            }
        fire = {"fire_models": self.fire_models}
        if self.video_model is None:
            return {"no_video": self.no_video, **fire}
        return {"video_model": str(self.video_model), **fire}

    # supervision ----------------------------------------------------------------------
    def step(self, wanted: int, heartbeat_timeout_s: float) -> None:
        """Keep the first `wanted` services running: start the due, book the exited,
        kill the silent. A service started once keeps running while the manager does
        (a camera added later finds it ready); beyond `wanted` none is started, so two
        cameras on a 16-core machine do not load the model 15 times."""
        # a video model exported after the first service started, or other fire models
        self._reload(self.runs[VIDEO_SERVICE])
        now = time.monotonic()
        for position, run in enumerate(self.runs):
            if run.process is not None:
                if not run.process.is_alive():
                    self._on_exit(run, describe_exit(run.process.exitcode))
                elif self._silent(run, heartbeat_timeout_s):
                    run.process.kill()
                    run.process.join(5)
                    self._on_exit(run, "stopped reporting (hung) and was killed")
            elif position < wanted and now >= run.next_start_mono:
                self._start(run)

    def _reload(self, run: ServiceRun) -> None:
        """Restart a running service whose models are no longer the ones wanted (a video
        model exported after it started, other fire models): stopped as at shutdown and
        started again at once, not booked as a failure. Nothing when they are the same
        (`step` asks every time); one not running yet loads them when it starts."""
        wanted = self._models_spec(run.place.index)
        if run.process is None or (run.video_model, run.fire_models) == (
            wanted.get("video_model", ""),
            wanted.get("fire_models", ()),
        ):
            return  # it starts with them, or already did
        log.info("restarting inference service %d to load its models", run.place.index)
        self._end(run)
        self._start(run, planned=True)

    def _silent(self, run: ServiceRun, heartbeat_timeout_s: float) -> bool:
        status = self.table.read(run.place.index)
        age = time.monotonic() - run.started_mono
        if not status.live:  # not reporting yet: loading its model
            return age > START_LIMIT_S
        if status.report.state == "starting":
            return age > START_LIMIT_S
        return time.time() - status.report.heartbeat_ts > heartbeat_timeout_s

    def _start(self, run: ServiceRun, *, planned: bool = False) -> None:
        if run.run_id and not planned:
            run.restarts += 1
        run.run_id = uuid.uuid4().hex
        place = run.place
        models = self._models_spec(place.index)
        run.video_model = models.get("video_model", "")
        run.fire_models = models.get("fire_models", ())
        spec = ServiceSpec(
            index=place.index,
            data_dir=str(self.data_dir),
            model=self.model.model_dump(mode="json"),
            socket_path=str(self.sockets[place.index]),
            run_id=run.run_id,
            manager_pid=self.manager_pid,
            threads=max(self.model.threads, len(place.cores)),
            **models,
        )
        child = spawn_child(
            service_main, spec, f"cashwatch.inference:{place.index}", service_origin(place.index)
        )
        process = child.process
        run.process, run.stop_event, run.exit_note = process, child.stop_event, child.exit_note
        run.relay = child.relay
        run.started_mono = time.monotonic()
        run.psutil_process = None
        if not place.device.startswith("cuda"):
            # platforms without affinity: the scheduler places it
            with contextlib.suppress(AttributeError, psutil.Error):
                psutil.Process(process.pid).cpu_affinity(list(place.cores))
        self.table.clear_lock(place.index)
        self.table.update_supervision(
            place.index,
            run_id=run.run_id,
            state="starting",
            pid=process.pid or 0,
            restarts=run.restarts,
            start_ts=time.time(),
            error=run.last_error,
        )
        log.info(
            "started inference service %d on %s (pid %s)", place.index, place.device, process.pid
        )

    def _on_exit(self, run: ServiceRun, how: str) -> None:
        note = read_exit_note(run.exit_note)
        reason = f"{how}: {note}" if note else how
        run.process.close()
        run.process, run.stop_event, run.exit_note = None, None, None
        ran_s = time.monotonic() - run.started_mono
        run.failures = 1 if ran_s >= HEALTHY_RUN_S else run.failures + 1
        delay = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (run.failures - 1))
        run.next_start_mono = time.monotonic() + delay
        run.last_error = mask_credentials(f"{reason}; restarting in {delay:.1f} s")
        log.warning("inference service %d %s", run.place.index, run.last_error)
        self.table.clear_lock(run.place.index)
        self.table.update_supervision(
            run.place.index,
            state="error",
            pid=0,
            cpu_percent=0.0,
            rss_mib=0.0,
            error=run.last_error,
        )

    def publish_resources(self) -> None:
        for run in self.runs:
            if run.process is None or not run.process.pid:
                continue
            try:
                if run.psutil_process is None:
                    run.psutil_process = psutil.Process(run.process.pid)
                cpu = run.psutil_process.cpu_percent(None)
                rss_mib = run.psutil_process.memory_info().rss / 2**20
            except psutil.Error:
                continue
            self.table.update_supervision(run.place.index, cpu_percent=cpu, rss_mib=rss_mib)

    # stopping -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every service (after the cameras: they may still be finishing a look)."""
        running = [run for run in self.runs if run.process is not None]
        for run in running:  # all told first: they wind down side by side
            run.stop_event.set()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for run in running:
            self._end(run, deadline)

    def _end(self, run: ServiceRun, deadline: float | None = None) -> None:
        """Stop one service: told to stop, given until `deadline` (monotonic; default
        STOP_TIMEOUT_S from now), then killed; its record says stopped."""
        run.stop_event.set()
        if deadline is None:
            deadline = time.monotonic() + STOP_TIMEOUT_S
        run.process.join(max(0.0, deadline - time.monotonic()))
        if run.process.is_alive():
            run.process.kill()
            run.process.join(5)
        run.process.close()
        run.process = None
        if run.exit_note is not None:
            run.exit_note.close()
        self.table.update_supervision(
            run.place.index, state="stopped", pid=0, cpu_percent=0.0, rss_mib=0.0
        )
        if run.relay is not None:
            run.relay.join(2.0)

    def close(self) -> None:
        self.stop()
        self.table.close()
        for path in self.sockets:
            path.unlink(missing_ok=True)
