"""The shared inference service's process: set up like a camera's, then serve.

Spawned by the manager (cashwatch.manager.inference), one per GPU or group of cores.
It loads each model once, listens on its socket and answers every camera's requests
(cashwatch.inference.server) until the manager stops it or goes away. The first service
also loads the video model of the violence verifier, when the manager exported it, and
the fire models the cameras name.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cashwatch.worker.base import ProcessSetup, enter_worker_process
from cashwatch.worker.log_pipe import PipeEnd

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as MpEvent

    from cashwatch.inference.server import FireModels
    from cashwatch.worker.process import ExitNoteWriter

log = logging.getLogger("cashwatch.inference")

EXIT_FAILED = 1


@dataclass(frozen=True)
class ServiceSpec:
    """What the manager hands a new service process: small and picklable.

    Attributes:
        index: The service's number (its socket, its status record, its log origin).
        data_dir: CashWatch's data folder.
        model: The `ModelConfig` as JSON data.
        socket_path: Where it listens.
        run_id: This run's id, written into its status record.
        manager_pid: It exits when its parent is no longer this process.
        threads: Inference threads (the cores of its group on CPU).
        video_model: The exported video model (the violence verifier's) it loads, for
            the service that hosts it; "" for the others.
        no_video: What its answer to a video request says without a video model.
        fire_models: The fire models (weights' absolute paths) it loads, for the service
            that hosts them; () for the others.
    """

    index: int
    data_dir: str
    model: dict[str, object]
    socket_path: str
    run_id: str
    manager_pid: int
    threads: int
    video_model: str = ""
    no_video: str = ""
    fire_models: tuple[str, ...] = ()


def service_title(index: int) -> str:
    """The process' name for ps, top and psutil (`cashwatch:inference-0`)."""
    return f"inference-{index}"


def service_main(
    spec: ServiceSpec,
    mp_stop: MpEvent,
    exit_note: ExitNoteWriter | None = None,
    log_pipe: PipeEnd | None = None,
) -> None:
    """Entry point of a service process (the manager's spawn target)."""
    enter_worker_process(ProcessSetup(camera_id=service_title(spec.index), log_pipe=log_pipe))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the manager, which stops us
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("inference service %d started (pid %d)", spec.index, os.getpid())
    from cashwatch.worker.process import exception_summary, leave_exit_note

    try:
        _serve(spec, mp_stop, stop)
        code = 0
    except Exception as exc:  # not re-raised: the message may quote a path; said once, masked
        log.exception("inference service %d failed", spec.index)
        leave_exit_note(exit_note, exception_summary(exc))
        code = EXIT_FAILED
    log.info("inference service %d stopped (exit code %d)", spec.index, code)
    raise SystemExit(code)


def _serve(spec: ServiceSpec, mp_stop: MpEvent, stop: threading.Event) -> None:
    from cashwatch.config.detection import ModelConfig
    from cashwatch.detect.backends import load_pose_model
    from cashwatch.inference.server import InferenceServer
    from cashwatch.shm.services import ServiceReport, ServiceTable

    data_dir = Path(spec.data_dir)
    table = ServiceTable.attach(data_dir)
    try:
        table.write_report(
            spec.index,
            ServiceReport(run_id=spec.run_id, state="starting", heartbeat_ts=time.time()),
        )
        model_config = ModelConfig.model_validate({**spec.model, "threads": spec.threads})
        pose = load_pose_model(model_config, data_dir)
        video, no_video = _load_video(spec)
        listener = _listen(Path(spec.socket_path))
        server = InferenceServer(
            {"pose": pose},
            listener,
            data_dir,
            lambda report: table.write_report(spec.index, report),
            model_config.batch_wait_ms / 1000.0,
            spec.run_id,
            video=video,
            no_video=no_video,
            fire=_load_fire(spec),
        )
        log.info("inference service %d serves %s on %s", spec.index, pose.name, spec.socket_path)

        def stopped() -> bool:
            return stop.is_set() or mp_stop.is_set() or os.getppid() != spec.manager_pid

        server.serve(stopped)
    finally:
        table.close()


def _load_video(spec: ServiceSpec) -> tuple[Any, str]:
    """The video model when this service hosts it, else None and why there is none.

    A video model that fails to load costs the cameras their verifier (their pose rule
    decides, and says why), never the pose model this service serves to every camera.
    """
    if not spec.video_model:
        return None, spec.no_video or f"{service_title(spec.index)} hosts no video model"
    from cashwatch.detect.video_features import VideoFeatureModel

    try:
        model = VideoFeatureModel(Path(spec.video_model), threads=spec.threads)
    except Exception as exc:  # the message names the file, not a secret
        log.exception("inference service %d cannot load the video model", spec.index)
        return None, f"the video model failed to load: {type(exc).__name__}: {exc}"
    log.info("inference service %d hosts the video model %s", spec.index, spec.video_model)
    return model, ""


def _load_fire(spec: ServiceSpec) -> FireModels:
    """The fire models this service hosts; one that fails to load is kept as its error.

    Like the video model's, a fire model's failure costs only the cameras that name it
    (their fire events then say the model could not confirm, and why).
    """
    from cashwatch.detect.fire_model import YoloFireConfirmer
    from cashwatch.inference.server import FireModels

    loaded, errors = {}, {}
    for weights in spec.fire_models:
        try:
            loaded[weights] = YoloFireConfirmer(Path(weights), Path(spec.data_dir))
        except Exception as exc:  # a missing file, no fire class, not a YOLO model
            log.exception("inference service %d cannot load the fire model %s", spec.index, weights)
            errors[weights] = f"the fire model failed to load: {type(exc).__name__}: {exc}"
            continue
        log.info("inference service %d hosts the fire model %s", spec.index, weights)
    return FireModels(loaded, errors)


def _listen(path: Path) -> socket.socket:
    """A listening Unix socket at `path`, replacing a dead service's file."""
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(256)
    except BaseException:
        listener.close()
        raise
    return listener
