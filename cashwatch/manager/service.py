"""`cashwatch run`: the manager's main loop.

Each pass (every LOOP_S): reload the config if it changed and reconcile, supervise the
workers, carry out requests, ingest journals into DuckDB, publish its own heartbeat.
What to start, stop, restart or leave unplaced is decided in cashwatch.manager.plan
from a snapshot; the Manager gathers the snapshot and carries the actions out. The
event store's upkeep (schema, ingest, db error, retention) is cashwatch.manager.upkeep.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
from functools import partial
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, assert_never

import psutil

from cashwatch.alerts.service import AlertService
from cashwatch.config import (
    CameraConfig,
    ConfigError,
    LoadedConfig,
    load_config,
    resolve_config_path,
)
from cashwatch.i18n import _
from cashwatch.inference.slots import InputSlot, input_name, video_input_name
from cashwatch.manager import alerting, requests
from cashwatch.manager.balance import Balancer
from cashwatch.manager.inference import InferencePool
from cashwatch.manager.placement import choose_core, pin, usable_cores
from cashwatch.manager.plan import (
    Action,
    Change,
    Clock,
    Failed,
    KeepLastGood,
    KillHung,
    Process,
    Reconcile,
    ReleaseBroken,
    Remove,
    Running,
    ShowBroken,
    Start,
    Unplaced,
    Wanted,
    WorkerState,
    plan_config,
    plan_placement,
    plan_supervision,
)
from cashwatch.manager.runners import RunnerUnavailable, WorkerRunner, make_runner
from cashwatch.manager.supervisor import (
    MonitoredWorker,
    RestartSchedule,
    book_failure,
    take_exit_note,
    worker_exit_reason,
)
from cashwatch.manager.till import TillUpkeep
from cashwatch.manager.upkeep import StoreUpkeep
from cashwatch.manager.watcher import ConfigWatcher, Stamp, file_stamp
from cashwatch.manager.workers import LaunchSettings, stop_workers
from cashwatch.shm import segments
from cashwatch.shm.frames import FrameSlot, LiveFrame
from cashwatch.shm.status import NoFreeSlot, StatusTable
from cashwatch.till.imports import till_journal
from cashwatch.util.files import PRIVATE_UMASK, make_private_dir, readable_by_others
from cashwatch.util.log_lines import LOG_FORMAT, MaskingFormatter, tag_manager_records
from cashwatch.util.manager_lock import ManagerLock
from cashwatch.util.redact import mask_credentials
from cashwatch.worker.base import set_spawn_environment
from cashwatch.worker.memory import set_worker_malloc

if TYPE_CHECKING:
    from cashwatch.manager.metrics import MetricsServer

log = logging.getLogger("cashwatch.manager")
# A camera with no process has no rates: its last worker's would read as still running
# (the worker's own rates are zeroed by readers, CameraStatus.counters).
NOT_RUNNING = {"cpu_percent": 0.0, "rss_mib": 0.0}

LOOP_S = 0.2
RESOURCES_EVERY_S = 2.0
HEARTBEAT_S = 0.5
ALERTS_RETRY_S = 60.0  # an alerting that could not start (its outbox unreadable) is retried
LOOP_STUCK_S = 60.0  # > stop_timeout_s + kill grace, the longest the loop may block
# The folders of the data folder that are CashWatch's own, tightened to owner-only at
# start (clips and snapshots show people; the journal and logs say who did what).
PRIVATE_FOLDERS = ("journal", "logs", "clips", "snapshots", "models", "requests")


def setup_logging(data_dir: Path) -> None:
    logs = make_private_dir(data_dir / "logs")
    # masked as a whole line: messages and tracebacks may quote a camera URL. Each line
    # names its process: the manager, or the camera whose worker's line the manager
    # relays (cashwatch.worker.log_pipe), so the System page can show one camera's.
    fmt = MaskingFormatter(LOG_FORMAT)
    file_handler = RotatingFileHandler(logs / "manager.log", maxBytes=5_000_000, backupCount=3)
    stream_handler = logging.StreamHandler()
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (file_handler, stream_handler):
        handler.setFormatter(fmt)
        handler.addFilter(tag_manager_records)
        root.addHandler(handler)


class Manager:
    def __init__(
        self,
        loaded: LoadedConfig,
        ray_address: str | None = None,
        config_stamp: Stamp | Literal["now"] = "now",
    ) -> None:
        self.loaded = loaded
        self._config_stamp = config_stamp  # the file as it was when `loaded` was read
        self.ray_address = ray_address
        self.data_dir = loaded.data_dir
        self.config_path = loaded.path
        self.workers: dict[str, MonitoredWorker] = {}
        self.broken: dict[str, int] = {}  # cameras that never had a valid entry -> slot
        self.slots: dict[int, FrameSlot] = {}
        self.inputs: dict[int, InputSlot] = {}  # model input per camera slot (shared models)
        # the violence verifier's window, per camera slot whose rule uses it (shared models)
        self.video_inputs: dict[int, InputSlot] = {}
        self.inference: InferencePool | None = None
        self.alerts: AlertService | None = None
        self._alerts_retry = 0.0  # monotonic: when to try again an alerting that failed
        self.metrics: MetricsServer | None = None
        self._stop = threading.Event()
        self._processes: dict[int, psutil.Process] = {}
        self._cores = usable_cores()
        self._balancer = Balancer(self._cores, loaded.app.manager.balance_every_s)
        self._model_ready = threading.Event()
        self._model_error = ""
        self.lock = ManagerLock(self.data_dir)
        self.unplaced: dict[str, str] = {}  # cameras without a status slot -> why
        self._slot_freed = False  # since the last placement: unplaced cameras may fit now

    # lifecycle --------------------------------------------------------------------
    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    def run(self) -> int:
        # The runner first: an unreachable cluster fails before anything is held.
        # The config path: Ray nodes read the cameras' credentials there, since they no
        # longer travel in the worker spec.
        self.runner: WorkerRunner = make_runner(
            self.ray_address, self.loaded.app.ray, str(self.config_path)
        )
        self.lock.acquire()
        try:
            setup_logging(self.data_dir)
            self._secure_data_dir()
            stale = segments.remove_stale(self.data_dir)
            if stale:
                log.warning(
                    "removed %d stale shared-memory segments of a previous manager", len(stale)
                )
            self.status = StatusTable.create(
                self.data_dir, self.loaded.app.manager.max_cameras, self.config_path
            )
        except BaseException:
            self.runner.close()
            self.lock.release()
            raise
        try:
            self._start_services()
            self._loop()
        finally:
            # whatever ended the run (a signal, a bug): workers stopped, segments unlinked
            self._shutdown()
        return 0

    def _start_services(self) -> None:
        from cashwatch.store.journal import JournalWriter

        self.status.set_header(
            manager_pid=os.getpid(),
            manager_started_ts=time.time(),
            manager_heartbeat_ts=time.time(),
        )
        self.journal = JournalWriter(self.data_dir, "_manager")
        self.upkeep = StoreUpkeep(
            self.data_dir,
            self.status,
            self.journal,
            journal_days=self.loaded.app.retention.journal_days,
        )
        replayed = self.upkeep.start()  # guarded: an unreadable journal must not stop it
        self.alerts = alerting.open_alerts(self.loaded)
        self.till = TillUpkeep(self.data_dir, till_journal(self.data_dir))
        self.metrics = self._serve_metrics()
        log.info(
            "manager %d started for %s (%d journal records replayed)",
            os.getpid(),
            self.config_path,
            replayed,
        )
        self.watcher = ConfigWatcher(self.config_path, since=self._config_stamp)
        self.watcher.start()
        self._prepare_environment()  # before the first spawn and the export thread
        self._open_inference()
        threading.Thread(target=self._prepare_model, name="prepare-model", daemon=True).start()
        self._loop_alive = time.monotonic()
        self._heartbeat = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._heartbeat.start()
        self.apply_config(self.loaded)

    def _secure_data_dir(self) -> None:
        """Owner-only folders for what CashWatch writes; a warning for the data folder.

        The data folder itself is the admin's (by default the folder holding the config,
        which may be /etc/cashwatch, read by other services): it is not chmod-ed behind
        the admin's back. Everything in it that holds evidence or history is in the
        folders tightened here or in owner-only files (the manager's umask).
        """
        for name in PRIVATE_FOLDERS:
            try:
                make_private_dir(self.data_dir / name)
            except OSError as exc:  # the cameras can still run; what needs it says so
                log.error("cannot make %s an owner-only folder: %s", self.data_dir / name, exc)
        if readable_by_others(self.data_dir):
            log.warning(
                "the data folder %s can be read by other accounts on this machine; "
                "CashWatch keeps its clips, snapshots, journal and logs in owner-only "
                "folders inside it, but `chmod 700 %s` keeps out the rest (the event "
                "database, the config with camera passwords) too",
                self.data_dir,
                self.data_dir,
            )

    def _serve_metrics(self) -> MetricsServer | None:
        """`/metrics` where `[metrics]` says (fixed at start); every source is read by the
        server's own threads, so each returns a copy or an object replaced whole."""
        from cashwatch.manager.metrics import MetricsSources, serve_metrics
        from cashwatch.status import camera_records
        from cashwatch.till.http import PATH as TILL_PATH
        from cashwatch.till.http import till_app

        sources = MetricsSources(
            cameras=partial(camera_records, self.status),
            # self.alerts, not its value now: an alerting that failed at start may start later
            events=lambda: self.alerts.event_counts() if self.alerts is not None else {},
            ingest=self.upkeep.ingestor.backlog,
            alerts=lambda: self.alerts.states() if self.alerts is not None else [],
        )
        # the tills' POST on the same port; its token read at each request (a reload)
        till = till_app(lambda: self.loaded.app.till.secret_token(), self.till.journal)
        return serve_metrics(self.loaded.app.metrics, sources, {TILL_PATH: till})

    def _beat(self) -> None:
        """Publish the manager's heartbeat from its own thread.

        The main loop may block for seconds while a worker flushes its clips and stops;
        readers must not take that for a dead manager. A loop stuck for longer than
        LOOP_STUCK_S does stop the heartbeat, so a hung manager still shows as down.
        """
        while not self._stop.is_set():
            if time.monotonic() - self._loop_alive < LOOP_STUCK_S:
                self.status.set_header(manager_heartbeat_ts=time.time())
            self._stop.wait(HEARTBEAT_S)

    def _loop(self) -> None:
        next_resources = 0.0
        while not self._stop.is_set():
            if self.watcher.changed():
                self.reload()
            self.runner.relay(self.workers.values(), self.status, self.slots)
            self._place_unplaced()
            self.supervise()
            self._balance()
            self._handle_requests()
            # the current config's retention: a reload may have changed it
            self.upkeep.step(self.loaded.app.retention)
            self.till.step(self.loaded, self._till_records(), self._live_frame)
            if self.inference is not None:
                self.inference.step(self._inference_wanted(), self._heartbeat_timeout_s())
            if self.alerts is None and time.monotonic() >= self._alerts_retry:
                self._alerts_retry = time.monotonic() + ALERTS_RETRY_S
                self.alerts = alerting.open_alerts(self.loaded)  # it failed at start
            alerting.step(self.alerts, self._camera_views())
            now = time.monotonic()
            if now >= next_resources:
                next_resources = now + RESOURCES_EVERY_S
                self._publish_resources()
                alerting.publish(self.alerts)
                if self.inference is not None:
                    self.inference.publish_resources()
            self._loop_alive = time.monotonic()
            self._stop.wait(LOOP_S)

    def _shutdown(self) -> None:
        """Stop everything `_start_services` got to; segments and lock go in any case."""
        self._stop.set()
        if self.metrics is not None:  # first: a scrape in flight has the workers' stop
            self.metrics.close()  # to finish before the status table it reads goes
        try:
            self._stop_workers_and_journal()
        finally:
            if self.inference is not None:  # after the cameras: they may be mid-look
                self.inference.close()
            for slot in self.slots.values():
                slot.close()
            for model_input in [*self.inputs.values(), *self.video_inputs.values()]:
                model_input.close()
            heartbeat = getattr(self, "_heartbeat", None)
            if heartbeat is not None:
                heartbeat.join(timeout=2)  # it writes to the table closed next
            self.runner.close()
            self.status.close()
            self.lock.release()
            log.info("manager stopped")

    def _stop_workers_and_journal(self) -> None:
        log.info("stopping %d workers", sum(w.alive for w in self.workers.values()))
        stop_workers(self.workers.values(), self.loaded.app.manager.stop_timeout_s)
        for worker in self.workers.values():
            self._record_run(worker, "manager stopped")
            self.status.update_manager(worker.slot, state="stopped", pid=0, **NOT_RUNNING)
        if hasattr(self, "watcher"):
            self.watcher.stop()
        if hasattr(self, "upkeep"):  # the last lines the stopped workers journaled
            self.upkeep.close()
        alerts = getattr(self, "alerts", None)
        if alerts is not None:  # the stopped workers' last events queued, sent next start
            alerting.step(alerts, self._camera_views())
            alerts.close()
        if hasattr(self, "journal"):
            self.journal.close()
        if hasattr(self, "till"):
            self.till.journal.close()

    # model ------------------------------------------------------------------------
    def _needs_pose_model(self) -> bool:
        """Whether the pose model must be exported: a camera looks at people, or names a
        fire model that a shared service (which always serves the pose model) will run."""
        shared = self.loaded.app.model.service == "shared"
        return any(
            c.detection.needs_inference if shared else c.detection.needs_pose_model
            for c in self.loaded.cameras.values()
        )

    def _prepare_environment(self) -> None:
        """Set every variable the workers and the model export add to the environment,
        from this thread, before any worker is spawned.

        A spawn forks and execs with this process's environment while other threads
        run (CPython releases the GIL around vfork and exec). A thread that *adds* a
        variable then can make glibc move the environment array under the child, whose
        exec fails: it exits with code 255 before running any Python, so it says nothing.
        That was the demo's failure at every first start: the export thread added the
        YOLO_* variables (configure_offline) while the camera without a pose model was
        being spawned. Set here first, the thread's own call only replaces values, which
        leaves the array where it is.
        """
        set_worker_malloc()
        set_spawn_environment()
        if self._needs_pose_model():
            from cashwatch.detect.offline import configure_offline

            configure_offline(self.data_dir)

    def _open_inference(self) -> None:
        """The shared services' table and plan, when models run shared on this machine.

        Ray workers run elsewhere and cannot reach a local socket: they keep their own
        model (per-camera), as does a site that asks for it.
        """
        model = self.loaded.app.model
        if model.service != "shared":
            return
        if not self.runner.local_processes:
            log.info(
                "[model] service = 'shared' applies to local cameras; Ray workers load their own"
            )
            return
        self.inference = InferencePool(self.data_dir, model, self._cores, os.getpid())

    def _inference_wanted(self) -> int:
        """How many services should run: one per camera that needs the pose model, up
        to one per core group, once the export is done."""
        if not self._model_ready.is_set() or self._model_error:
            return 0
        return sum(
            camera.enabled and camera.detection.needs_inference
            for camera in self.loaded.cameras.values()
        )

    def _serving(self) -> bool:
        """Workers get the services' sockets: services run here and have a model."""
        return self.inference is not None and not self._model_error

    def _heartbeat_timeout_s(self) -> float:
        return float(self.loaded.app.manager.heartbeat_timeout_s)

    def _prepare_model(self) -> None:
        """Export the model once (in a subprocess) before detection workers start."""
        if not self._needs_pose_model():
            self._model_ready.set()
            return
        try:
            from cashwatch.detect.backends import prepare_model

            prepare_model(self.loaded.app.model, self.data_dir)
        except Exception as exc:  # workers then run without detection and say why
            self._model_error = f"{type(exc).__name__}: {exc}"
            log.exception("model preparation failed")
        cameras = list(self.loaded.cameras.values())
        if self.inference is not None:
            self.inference.want_fire_models(cameras)
        # the video model made on an earlier run is found before the services start (the
        # first loads it as it starts); one still to export is made after they start, so
        # pose detection does not wait for it (the first service then reloads)
        video_found = (
            self.inference is None
            or bool(self._model_error)
            or self.inference.prepare_video(cameras, export=False)
        )
        self._model_ready.set()
        if not video_found and self.inference is not None:
            self.inference.prepare_video(cameras)

    # config -----------------------------------------------------------------------
    def reload(self) -> None:
        try:
            loaded = load_config(self.config_path, create=False)
        except ConfigError as exc:
            message = mask_credentials(str(exc))  # a TOML error quotes the line it failed on
            log.error("config rejected, keeping the last good one: %s", message)
            self.status.set_header(config_error=message)
            return
        log.info("config reloaded")
        if loaded.app.model != self.loaded.app.model:
            log.warning("[model] changes take effect after a manager restart")
        if loaded.app.manager.max_cameras != self.status.capacity:
            log.warning(
                "[manager] max_cameras = %d takes effect after a manager restart "
                "(the status table has %d slots)",
                loaded.app.manager.max_cameras,
                self.status.capacity,
            )
        if self.inference is not None and self._model_ready.is_set():
            self.inference.note_config(loaded.cameras.values())
            self.inference.want_fire_models(loaded.cameras.values())
        self.loaded = loaded
        self.apply_config(loaded)
        alerting.configure(self.alerts, loaded)

    def apply_config(self, loaded: LoadedConfig) -> None:
        """Make the workers match `loaded`, camera by camera.

        One entry that fails here (no status slot left, no shared memory for its frame)
        becomes that camera's error; the others are reconciled and the loop goes on.
        """
        errors = {**loaded.camera_errors, **loaded.alert_errors}
        for message in errors.values():
            # also in the log: an admin who starts the manager by hand sees nothing else
            log.warning("config: %s", mask_credentials(message))
        self.unplaced = {}
        self._execute(plan_config(self._wanted(loaded), self._running()))
        self._slot_freed = False
        self._publish_config_errors()

    def _publish_config_errors(self) -> None:
        # Every rejected or unplaced entry goes in the header, which only the manager
        # writes: a running camera's own last_error is rewritten by its worker twice a
        # second, and an unplaced camera has no record at all.
        self.status.set_header(
            config_error=mask_credentials(
                "; ".join(
                    [
                        *self.loaded.camera_errors.values(),
                        *self.loaded.alert_errors.values(),
                        *self._unplaced_summary(),
                    ]
                )
            )
        )

    def _place_unplaced(self) -> None:
        """Try again the cameras that found no slot, once one has been freed.

        Only after a release: retrying every loop would log "all slots in use" 5 times
        a second for a site simply over its max_cameras.
        """
        actions = plan_placement(self._wanted(self.loaded), self._running())
        if actions is None:
            return
        self._slot_freed = False
        self.unplaced = {}
        self._execute(actions)
        self._publish_config_errors()

    def _guarded(self, camera_id: str, step: Any, *args: Any) -> None:
        """Run one camera's reconcile step; its failure is that camera's, not the loop's."""
        try:
            step(*args)
        except NoFreeSlot:
            self._no_slot_left(camera_id)
        except Exception as exc:
            log.exception("camera %s: reconciling its config entry failed", camera_id)
            self.unplaced[camera_id] = (
                f"not started: {type(exc).__name__}: {mask_credentials(str(exc))}"
            )

    def _no_slot_left(self, camera_id: str) -> None:
        self.unplaced[camera_id] = (
            f"not started: all {self.status.capacity} camera slots are in use "
            f"([manager] max_cameras = {self.status.capacity}); raise max_cameras in "
            f"{self.config_path.name} and restart the manager"
        )
        log.error("camera %s: %s", camera_id, self.unplaced[camera_id])

    def _unplaced_summary(self) -> list[str]:
        """One message per reason, naming its cameras: ten cameras past the limit must
        not push everything else out of the header's 1 KB."""
        by_reason: dict[str, list[str]] = {}
        for camera_id, reason in self.unplaced.items():
            by_reason.setdefault(reason, []).append(camera_id)
        return [
            f"camera{'s' if len(ids) > 1 else ''} {', '.join(ids)}: {reason}"
            for reason, ids in by_reason.items()
        ]

    def _keep_last_good(self, camera_id: str, message: str) -> None:
        worker = self.workers[camera_id]
        worker.config_error = message
        self.status.update_manager(
            worker.slot,
            error=mask_credentials(f"config rejected, running the last good settings: {message}"),
        )

    def _show_broken(self, camera_id: str, message: str) -> None:
        slot = self.broken.get(camera_id)
        if slot is None:
            slot = self.broken[camera_id] = self.status.free_slot()
        self.status.update_manager(
            slot,
            camera_id=camera_id,
            state="error",
            error=mask_credentials(message),
            pid=0,
            **NOT_RUNNING,
        )

    def _reconcile_camera(self, step: Reconcile) -> None:
        """Carry out one camera's reconcile, as the plan classified its change."""
        camera = step.camera
        worker = self._add(camera) if step.change is Change.ADDED else self.workers[camera.id]
        worker.config_error = ""
        if step.change is not Change.CHANGED:
            if step.change is Change.SWITCHED_ON:  # switched on: start it now
                worker.next_start_mono, worker.consecutive_failures = 0.0, 0
            worker.camera = camera  # at most switched on or off: handled below, no restart
        else:
            log.info("camera %s changed; restarting it", camera.id)
            self._stop_worker(worker)
            self._record_run(worker, "config changed")
            worker.camera, worker.next_start_mono = camera, 0.0
            worker.consecutive_failures = 0
        if step.stop:
            log.info("camera %s disabled; stopping it", camera.id)
            self._stop_worker(worker)
            self._record_run(worker, "disabled")
        if not camera.enabled:
            self.status.update_manager(worker.slot, state="stopped", pid=0, error="", **NOT_RUNNING)
        self._describe(worker)

    def _describe(self, worker: MonitoredWorker) -> None:
        camera = worker.camera
        self.status.update_manager(
            worker.slot,
            camera_id=camera.id,
            name=camera.display_name,
            site=camera.site,
            source=mask_credentials(camera.source),
            node=self.runner.node_of(worker),
        )

    def _add(self, camera: CameraConfig) -> MonitoredWorker:
        slot = self.status.free_slot()
        try:
            self.slots[slot] = FrameSlot.create(self.data_dir, slot)
            if self.inference is not None:
                self.inputs[slot] = InputSlot.create(
                    self.data_dir, slot, self.loaded.app.model.imgsz
                )
        except BaseException:
            frame_slot = self.slots.pop(slot, None)
            if frame_slot is not None:
                frame_slot.close()
            self.status.clear(slot)
            raise
        self.status.update_manager(slot, camera_id=camera.id, state="starting")
        worker = self.workers[camera.id] = MonitoredWorker(camera=camera, slot=slot)
        return worker

    def _remove(self, camera_id: str) -> None:
        worker = self.workers.pop(camera_id)
        log.info("camera %s removed; stopping it", camera_id)
        try:
            stop_workers([worker], self.loaded.app.manager.stop_timeout_s)
        except BaseException:
            _kill_quietly(worker)  # no longer in self.workers: nothing else would stop it
            raise
        finally:
            # popped above, so nothing else would ever free its slot
            self._record_run(worker, "removed")
            self._release_slot(worker.slot)

    def _release_slot(self, slot: int) -> None:
        self._slot_freed = True
        self.status.clear(slot)
        frame_slot = self.slots.pop(slot, None)
        if frame_slot is not None:
            frame_slot.close()
        for inputs in (self.inputs, self.video_inputs):
            model_input = inputs.pop(slot, None)
            if model_input is not None:
                model_input.close()

    # plan and carry out -------------------------------------------------------------
    def _wanted(self, loaded: LoadedConfig) -> Wanted:
        return Wanted(
            cameras=loaded.cameras, errors=loaded.camera_errors, policy=loaded.app.manager
        )

    def _running(self) -> Running:
        return Running(
            workers={cid: self._snapshot(w) for cid, w in self.workers.items()},
            capacity=self.status.capacity,
            broken=tuple(self.broken),
            unplaced=tuple(self.unplaced),
            slot_freed=self._slot_freed,
            model_ready=self._model_ready.is_set(),
        )

    def _snapshot(self, worker: MonitoredWorker) -> WorkerState:
        process, heartbeat_ts = Process.NONE, 0.0
        if worker.process is not None:
            process = Process.ALIVE if worker.process.is_alive() else Process.EXITED
        if process is Process.ALIVE and worker.camera.enabled:  # what staleness needs
            record = self.status.read(worker.slot)
            heartbeat_ts = record.heartbeat_ts if record else 0.0
        return WorkerState(
            camera=worker.camera,
            process=process,
            heartbeat_ts=heartbeat_ts,
            started_at=worker.started_at,
            started_mono=worker.started_mono,
            consecutive_failures=worker.consecutive_failures,
            next_start_mono=worker.next_start_mono,
            restart_history=tuple(worker.restart_history),
        )

    def _execute(self, actions: list[Action]) -> None:
        """Carry out a plan in its order; a camera's config step that fails is that
        camera's error (`_guarded`), a supervision step that fails ends the loop."""
        for action in actions:
            self._carry_out(action)

    def _carry_out(self, action: Action) -> None:
        match action:
            case Reconcile():
                self._guarded(action.camera.id, self._reconcile_camera, action)
            case Remove():
                self._guarded(action.camera_id, self._remove, action.camera_id)
            case KeepLastGood():
                self._keep_last_good(action.camera_id, action.message)
            case ShowBroken():
                self._guarded(action.label, self._show_broken, action.label, action.message)
            case ReleaseBroken():
                self._release_slot(self.broken.pop(action.label))
            case Unplaced():
                self._no_slot_left(action.camera_id)
            case Start():
                self._start(self.workers[action.camera_id])
            case Failed():
                worker = self.workers[action.camera_id]
                self._on_failure(worker, worker_exit_reason(worker), action.schedule)
            case KillHung():
                self._kill_hung(self.workers[action.camera_id], action.schedule)
            case _:
                assert_never(action)

    # supervision ------------------------------------------------------------------
    def supervise(self) -> None:
        now = Clock(mono=time.monotonic(), wall=time.time())
        self._execute(plan_supervision(self._wanted(self.loaded), self._running(), now))

    def _stop_worker(self, worker: MonitoredWorker) -> None:
        """Stop one worker and leave its record readable: a worker killed by the stop's
        escalation may have died mid-write, and nothing else rewrites the record of a
        camera that stays stopped (readers would wait out their patience on every read)."""
        stop_workers([worker], self.loaded.app.manager.stop_timeout_s)
        self.status.clear_lock(worker.slot)

    def _kill_hung(self, worker: MonitoredWorker, schedule: RestartSchedule) -> None:
        assert worker.process is not None
        worker.process.kill()
        worker.process.join(5)
        take_exit_note(worker)  # closes its pipe: a killed worker left none
        # the plan's back-off, counted from the end of the kill (the join may take
        # seconds), as it was before the plan decided it
        schedule = dataclasses.replace(
            schedule, next_start_mono=time.monotonic() + schedule.delay_s
        )
        self._on_failure(worker, "stopped sending heartbeats (hung) and was killed", schedule)

    def _start(self, worker: MonitoredWorker) -> None:
        core = self._choose_core(worker) if self.runner.local_processes else None
        if worker.run_id:
            worker.restarts += 1 if worker.last_exit_reason else 0
            worker.restart_history.append(time.monotonic())
        app = self.loaded.app
        local = self.runner.local_processes
        serving = self.inference if self._serving() else None
        launch = LaunchSettings(
            model=app.model,
            data_dir=self.data_dir,
            manager_pid=os.getpid() if local else 0,
            live_every_n=app.manager.live_every_n,
            storage_url=app.storage.url,
            # no services run without a model: the worker then tries its own and says why
            # detection is off (the export's error), not that it waits for a service
            inference_sockets=tuple(str(path) for path in serving.sockets) if serving else (),
            input_slot=input_name(self.data_dir, worker.slot) if serving else "",
            video_slot=self._video_slot(worker) if serving else "",
        )
        self.runner.spawn(worker, core, launch)
        assert worker.process is not None
        pid = worker.process.pid or 0  # a Ray actor's pid is known once it is placed
        if local:
            self._processes[worker.slot] = psutil.Process(pid)
        worker.last_exit_reason = ""
        self._describe(worker)
        error = f"detection disabled: {self._model_error}" if self._model_error else ""
        # a new run_id: the previous run's worker record no longer speaks for the camera
        self.status.update_manager(
            worker.slot,
            state="starting",
            pid=pid,
            core=-1 if core is None else core,
            run_id=worker.run_id,
            restarts=worker.restarts,
            start_ts=worker.started_at,
            heartbeat_ts=time.time(),
            error=error,
        )
        self._record_run(worker, None)
        log.info("started %s (pid %s, core %s)", worker.camera.id, pid or "pending", core)

    def _video_slot(self, worker: MonitoredWorker) -> str:
        """The camera's video slot, made while its violence rule uses the verified method
        (and freed once it no longer does: a config change restarts the camera)."""
        slot = worker.slot
        if not worker.camera.detection.uses_video_verifier:
            video_input = self.video_inputs.pop(slot, None)
            if video_input is not None:
                video_input.close()
            return ""
        if slot not in self.video_inputs:
            try:
                self.video_inputs[slot] = InputSlot.create_video(self.data_dir, slot)
            except OSError as exc:  # /dev/shm full: the camera runs, its pose rule decides
                log.error("camera %s: no video slot for its verifier: %s", worker.camera.id, exc)
                return ""
        return video_input_name(self.data_dir, slot)

    def _choose_core(self, worker: MonitoredWorker) -> int:
        assigned = {
            w.camera.id: w.core
            for w in self.workers.values()
            if w.core is not None and w.process is not None
        }
        load = {cid: self._cpu_of(w) for cid, w in self.workers.items()}
        return choose_core(self._cores, assigned, load, worker.slot, self._balancer.other_load)

    def _balance(self) -> None:
        """Move a camera to the core with more room when that evens the cores
        (cashwatch.manager.balance): a pinned worker cannot borrow the other core."""
        self._balancer.every_s = self.loaded.app.manager.balance_every_s  # may be reloaded
        if not self.runner.local_processes or not self._balancer.due():
            return
        running = {
            w.camera.id: (w.process.pid, w.core)
            for w in self.workers.values()
            if w.core is not None and w.process is not None and w.process.pid and w.alive
        }
        move = self._balancer.step(running)
        worker = self.workers.get(move.camera_id) if move is not None else None
        if move is None or worker is None or worker.process is None:
            return
        if not pin(worker.process.pid or 0, move.to_core):
            log.warning("camera %s: could not move it to core %d", move.camera_id, move.to_core)
            return
        worker.core = move.to_core
        self.status.update_manager(worker.slot, core=move.to_core)
        log.info(
            "camera %s: moved from core %d to core %d, which had more room",
            worker.camera.id,
            move.from_core,
            move.to_core,
        )

    def _cpu_of(self, worker: MonitoredWorker) -> float:
        return self.status.read_manager(worker.slot).cpu_percent

    def _on_failure(self, worker: MonitoredWorker, reason: str, schedule: RestartSchedule) -> None:
        assert worker.process is not None
        worker.process.close()
        worker.process, worker.stop_event = None, None
        self._record_run(worker, reason)
        message = mask_credentials(book_failure(worker, reason, schedule))
        log.warning("camera %s: %s", worker.camera.id, message)
        self.status.clear_lock(worker.slot)
        self.status.update_manager(worker.slot, state="error", pid=0, error=message, **NOT_RUNNING)

    def _record_run(self, worker: MonitoredWorker, stop_reason: str | None) -> None:
        """Journal a run as started (`stop_reason` None) or as stopped, once: a camera
        disabled and later changed or removed must keep the time it really stopped."""
        if not worker.run_id or not worker.run_open:
            return
        if stop_reason is not None:
            worker.run_open = False
        self.journal.append(
            "worker_run",
            {
                "run_id": worker.run_id,
                "camera_id": worker.camera.id,
                "pid": (worker.process.pid if worker.process is not None else None),
                "core": worker.core,
                "started_at": worker.started_at,
                "stopped_at": None if stop_reason is None else time.time(),
                "exit_reason": None if stop_reason is None else mask_credentials(stop_reason),
                "restarts": worker.restarts,
            },
        )

    # requests, resources ----------------------------------------------------------
    def _handle_requests(self) -> None:
        for request in requests.take_requests(self.data_dir):
            if request.get("action") == "suspend_alerts":
                alerting.suspend(self.alerts, request, self.loaded)
                continue
            worker = self.workers.get(str(request.get("camera_id")))
            if request.get("action") != "restart" or worker is None:
                log.warning("ignored request %r (unknown camera or action)", request)
                continue
            log.info("restart of %s requested", worker.camera.id)
            self._stop_worker(worker)
            self._record_run(worker, "restart requested")
            worker.next_start_mono = 0.0

    def _till_records(self) -> dict[str, dict[str, Any]]:
        """The status records of the cameras on a till (none read when no camera is)."""
        from cashwatch.status import camera_records

        if not any(c.till_id for c in self.loaded.app.cameras):
            return {}
        return camera_records(self.status)

    def _live_frame(self, camera_id: str) -> LiveFrame | None:
        """A camera's latest live frame (the snapshot of a till exception's moment)."""
        worker = self.workers.get(camera_id)
        slot = self.slots.get(worker.slot) if worker is not None else None
        return slot.read() if slot is not None else None

    def _camera_views(self) -> dict[str, alerting.CameraView]:
        """Every camera the manager runs, with its state, for camera_down alerts."""
        records = {w.camera.id: self.status.read(w.slot) for w in self.workers.values()}
        return alerting.camera_views(self.workers.values(), records)

    def _publish_resources(self) -> None:
        for worker in self.workers.values():
            process = self._processes.get(worker.slot)
            if process is None or not worker.alive or process.pid != worker.process.pid:  # type: ignore[union-attr]
                continue
            try:
                cpu = process.cpu_percent(None)
                rss_mib = process.memory_info().rss / 2**20
            except psutil.Error:
                continue
            self.status.update_manager(worker.slot, cpu_percent=cpu, rss_mib=rss_mib)


def _kill_quietly(worker: MonitoredWorker) -> None:
    """Best effort, for a worker whose orderly stop failed."""
    process = worker.process
    if process is None:
        return
    try:
        if process.is_alive():
            process.kill()
            process.join(5)
    except Exception:
        log.exception("camera %s: killing its worker failed too", worker.camera.id)


def run_manager(config: str | None, ray_address: str | None = None) -> int:
    """Entry point of `cashwatch run`; `ray_address` runs the cameras on a Ray cluster."""
    # before anything is created (the first run's data folder and config too): every
    # file and folder the manager and its workers (who inherit it) make is owner-only
    os.umask(PRIVATE_UMASK)
    # Stamped before it is read: an edit from now on, also one made before the watcher
    # starts, is a change (at worst one reload too many, never one missed).
    stamp = file_stamp(resolve_config_path(config))
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        print(f"cashwatch: {exc}")
        return 2
    if stamp is None:  # the first run wrote the demo config just now
        stamp = file_stamp(loaded.path)
    manager = Manager(loaded, ray_address, config_stamp=stamp)
    signal.signal(signal.SIGTERM, manager.request_stop)
    signal.signal(signal.SIGINT, manager.request_stop)
    from cashwatch.util.manager_lock import AlreadyRunning

    try:
        return manager.run()
    except (AlreadyRunning, RunnerUnavailable) as exc:
        print(f"cashwatch: {exc}")
        return 1
    except OSError as exc:  # the data folder refused (read-only, a file where a folder goes)
        message = _("cannot use the data folder {data_dir}: {reason}").format(
            data_dir=loaded.data_dir, reason=exc
        )
        print(f"cashwatch: {message}")
        return 1
