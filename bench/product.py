"""CashWatch itself as a benchmark fleet: `cashwatch run` with N file cameras.

Cameras are added and removed by rewriting the config while the manager runs (it
reconciles only what changed), so a capacity search does not restart the fleet.
Everything is read from shared memory, as the dashboard reads it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import psutil

from bench.fleet import CameraCounters
from bench.footage import CACHE, camera_footage
from cashwatch.evidence import encoder_process
from cashwatch.shm.frames import FrameSlot
from tests.harness import ManagerProcess, camera_entry, write_config

# Like for like with the seed design, which ran the model on every 4th frame of a
# 15 fps camera: 3.75 analysed frames per second (CashWatch's own default is 7.5/s).
DETECT_TARGET_FPS = 3.75
# The product's own backend choice (auto: ONNX Runtime on AVX2-only CPUs, OpenVINO with bf16),
# and its own design for where models run: "shared" (one inference service process per
# core serves every camera) or "per-camera" (each worker loads its own model). A fleet
# may ask for the other design (`ProductFleet(service=...)`).
MODEL = {"backend": "auto", "imgsz": 640, "threads": 1, "service": "shared"}
SERVICES = ("shared", "per-camera")
# [detection] over the defaults for violence by the trigger's pose rule alone: what a
# camera with its own model runs (it hosts no video verifier)
POSE_METHOD: dict[str, Any] = {"violence": {"method": "pose"}}
# Process titles under the manager: an inference service's starts with this, a camera
# worker's is "cashwatch:<camera id>" (cashwatch.worker.base.process_title).
SERVICE_TITLE = "cashwatch:inference"
WORKER_TITLE = "cashwatch:"
# a camera worker's clip encoder, one per clip being written: `python -m` this module
ENCODER_MODULE = encoder_process.__name__
# Generous: under overload a worker may answer late; the benchmark judges it, not the manager.
MANAGER = {"heartbeat_timeout_s": 60.0, "stop_timeout_s": 10.0, "max_cameras": 64}
MODELS_CACHE = CACHE / "models"  # exports survive between runs (one export, ~20 s)
WARM_FRAMES = 8  # sampled frames a new worker must have processed before it counts


class DetectionUnavailable(RuntimeError):
    """A worker runs without detection (e.g. the pipeline has not landed)."""


def process_role(title: str) -> str:
    """What a process below the manager is, from its title: "services", "workers",
    "encoders" (clip encoders) or "other" (e.g. multiprocessing's resource tracker).

    >>> process_role("cashwatch:inference-0"), process_role("cashwatch:cam3")
    ('services', 'workers')
    >>> process_role("python -m cashwatch.evidence.encoder_process /d/a.mp4 10.0 None")
    'encoders'
    >>> process_role("python -c from multiprocessing.resource_tracker import main")
    'other'
    """
    if ENCODER_MODULE in title:
        return "encoders"
    if title.startswith(SERVICE_TITLE):
        return "services"
    if title.startswith(WORKER_TITLE):
        return "workers"
    return "other"


def fleet_kind(gating: bool, service: str) -> str:
    """`gating_on`, `gating_off`; `_per_camera` added for the per-camera model design.

    >>> fleet_kind(True, "shared"), fleet_kind(True, "per-camera")
    ('gating_on', 'gating_on_per_camera')
    """
    kind = "gating_on" if gating else "gating_off"
    return kind if service == "shared" else f"{kind}_{service.replace('-', '_')}"


class ProductFleet:
    """A real manager plus workers on `source`, motion gating on or off, models in a
    shared inference service or in each worker (`service`)."""

    detect_target_fps = DETECT_TARGET_FPS

    def __init__(
        self,
        source: Path | str,
        gating: bool,
        work_dir: Path,
        detection: bool = True,
        extra: dict[str, Any] | None = None,
        manager_args: tuple[str, ...] = (),
        in_phase: bool = False,
        service: str = str(MODEL["service"]),
        rules: dict[str, Any] | None = None,
        kind: str = "",
    ) -> None:
        if service not in SERVICES:
            raise ValueError(f"service must be one of {SERVICES}, not {service!r}")
        self.service = service
        # how the search's log lines name it; by default from the gate and the service
        self.kind = kind or fleet_kind(gating, service)
        self.source = source
        self.in_phase = in_phase  # every camera from the clip's start: the worst case
        self.gating = gating
        self.detection = detection
        self.extra = extra or {}
        self.rules = rules or {}  # [detection] rule sections over the defaults
        self.manager_args = manager_args  # e.g. ("--ray", address): bench/ray_overhead.py
        self.data_dir = work_dir
        self.config = work_dir / "cashwatch.toml"
        self.manager: ManagerProcess | None = None
        self._n = 0
        self._slots: dict[int, FrameSlot] = {}
        self.first_rss_mib: dict[str, float] = {}  # each worker's RSS when first measured
        share_model_cache(work_dir)

    @property
    def size(self) -> int:
        return self._n

    def _camera(self, index: int) -> dict[str, Any]:
        source = self.source
        if isinstance(source, Path) and not self.in_phase:
            source = camera_footage(source, index)
        if not self.detection:
            return camera_entry(f"cam{index}", source, **self.extra)
        detection = {"fps": DETECT_TARGET_FPS, "motion": {"enabled": self.gating}, **self.rules}
        return camera_entry(f"cam{index}", source, detection=detection, **self.extra)

    def resize(self, n: int, timeout_s: float = 300.0) -> None:
        # The manager unlinks a removed camera's frame segment and makes a new one, under
        # the same name, for the next camera in that slot: an attachment kept from before
        # would read the old segment's last frame, growing older (a false "age grew"
        # failure after a search stepped down and up again).
        self._close_slots()
        write_config(
            self.config,
            [self._camera(i) for i in range(n)],
            model={**MODEL, "service": self.service},
            manager=MANAGER,
        )
        self._n = n
        if self.manager is None:
            self.manager = ManagerProcess(self.config, extra_args=self.manager_args).start()
        deadline = time.monotonic() + timeout_s
        while not self._all_warm():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{n} CashWatch cameras not all running after {timeout_s:g} s;"
                    f" manager log:\n{self.manager.log()}"
                )
            time.sleep(0.25)  # polling shared memory with a deadline

    def _all_warm(self) -> bool:
        workers = self.workers()
        if len(workers) != self._n:
            return False
        for camera_id, record in workers.items():
            if record["last_error"].startswith("detection disabled"):
                raise DetectionUnavailable(f"{camera_id}: {record['last_error']}")
            if record["state"] != "running":
                return False
            if self.detection and record["frames_processed"] < WARM_FRAMES:
                return False
        return True

    def workers(self) -> dict[str, dict[str, Any]]:
        assert self.manager is not None, "resize() starts the manager"
        return self.manager.workers()

    def counters(self) -> dict[str, CameraCounters]:
        now = time.time()
        out = {}
        for camera_id, r in self.workers().items():
            if r["rss_mib"] > 0:
                self.first_rss_mib.setdefault(camera_id, r["rss_mib"])
            inferences = r["frames_processed"] - r["skipped_motion"]
            out[camera_id] = CameraCounters(
                r["frames_read"], r["frames_processed"], inferences, r["inference_ms"], now
            )
        return out

    def _live_headers(self) -> list[tuple[float, int]]:
        """(ts, frame_no) of each camera's live frame, read from the slot header only:
        no 2.7 MB copy per read, so sampling does not load the machine."""
        out = []
        for record in sorted(self.workers().values(), key=lambda r: r["slot"]):
            slot = self._slots.get(record["slot"])
            if slot is None:
                slot = self._slots[record["slot"]] = FrameSlot.attach(self.data_dir, record["slot"])
            out.append((float(slot.header["ts"][0]), int(slot.header["frame_no"][0])))
        return out

    def frame_ages_s(self) -> list[float]:
        """Age of each camera's live frame now."""
        now = time.time()
        return [now - ts for ts, _ in self._live_headers() if ts]

    def frame_numbers(self) -> list[int]:
        """Frame counter of each camera's live frame (moves every `live_every_n` frames)."""
        return [frame_no for _, frame_no in self._live_headers()]

    def pids(self) -> list[int]:
        return [r["pid"] for r in self.workers().values() if r["pid"] > 0]

    def service_pids(self) -> list[int]:
        """The shared inference services' processes (none with per-camera models)."""
        return [p.pid for p in self.processes()["services"]]

    def manager_pid(self) -> int:
        assert self.manager is not None and self.manager.proc is not None
        return self.manager.proc.pid

    def processes(self) -> dict[str, list[psutil.Process]]:
        """The fleet's processes by role: the manager, and below it the inference
        services, the camera workers and any other (see `process_role`)."""
        manager = psutil.Process(self.manager_pid())
        out: dict[str, list[psutil.Process]] = {
            "manager": [manager],
            "services": [],
            "workers": [],
            "encoders": [],
            "other": [],
        }
        for child in manager.children(recursive=True):
            try:
                title = " ".join(child.cmdline()).strip() or child.name()
            except psutil.Error:
                continue  # ended meanwhile
            out[process_role(title)].append(child)
        return out

    def _close_slots(self) -> None:
        for slot in self._slots.values():
            slot.close()
        self._slots.clear()

    def close(self) -> None:
        self._close_slots()
        if self.manager is not None:
            self.manager.stop()
            self.manager = None


def share_model_cache(data_dir: Path) -> None:
    """data_dir/models → the bench cache, so the model export happens once."""
    MODELS_CACHE.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    link = data_dir / "models"
    if link.is_symlink() or link.exists():
        if link.is_symlink() and link.resolve() == MODELS_CACHE.resolve():
            return
        shutil.rmtree(link) if link.is_dir() and not link.is_symlink() else link.unlink()
    link.symlink_to(MODELS_CACHE, target_is_directory=True)
