"""A camera worker hosted inside a Ray actor (see cashwatch.manager.runners.ray_runner).

The same `CameraWorker` as a local process, run on a thread of the actor's process. It
publishes into a `LatestState` instead of the manager's shared memory; the manager
polls `poll()` and copies the latest values into its shared memory. This module does
not import Ray: the runner wraps the class with `ray.remote`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

from cashwatch.shm.status import WorkerStatus
from cashwatch.worker.log_pipe import LineBuffer
from cashwatch.worker.publish import LatestState, LiveUpdate
from cashwatch.worker.spec import CredentialsUnavailable, WorkerSpec, unseal_source

log = logging.getLogger("cashwatch.worker")

# The actor could not find its camera's real source on its node (sysexits' EX_CONFIG);
# its status' source_error says why, and the runner passes that on as the exit reason.
EXIT_NO_CREDENTIALS = 78


class CameraActor:
    """Runs one camera; `poll` reports it, `stop` ends it cleanly (clips flushed).

    >>> actor = CameraActor(spec, node="lobby-1/3fa2c9d0")   # doctest: +SKIP
    >>> actor.poll(0)[0].status.state  # doctest: +SKIP
    'connecting'
    """

    def __init__(
        self, spec: WorkerSpec, node: str = "", log_lines: LineBuffer | None = None
    ) -> None:
        from cashwatch.worker.process import EXIT_CRASHED, CameraWorker, exception_summary

        # A file-size limit must fail a journal write, not kill the actor (as for a
        # local worker, see run_worker_process).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        self.node = node or socket.gethostname()
        # this process' log lines, for the manager's log (None: not sent)
        self.log_lines = log_lines
        self.state = LatestState(node=self.node, pid=os.getpid())
        self._stop = threading.Event()
        self._exit_code: int | None = None
        self._thread: threading.Thread | None = None
        try:
            spec = unseal_source(spec)  # the real source, from this node's own files
        except CredentialsUnavailable as exc:
            # Alive, so the manager's poll learns why instead of a bare "actor died";
            # it then restarts with back-off (the admin may be fixing the file).
            self._failed(spec, str(exc))
            self._exit_code = EXIT_NO_CREDENTIALS
            return
        try:
            self._worker = CameraWorker(spec, self._stop, self.state.status, self.state.frames)
        except Exception as exc:  # raised, Ray would print the traceback itself, unmasked
            log.exception("camera worker could not start")
            self._failed(spec, exception_summary(exc))
            self._exit_code = EXIT_CRASHED
            return
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)
        self._thread.start()

    def _failed(self, spec: WorkerSpec, why: str) -> None:
        self.state.status.write_worker(
            spec.slot,
            WorkerStatus(
                run_id=spec.run_id, state="error", source_error=why, heartbeat_ts=time.time()
            ),
        )

    def _run(self) -> None:
        code = 1
        try:
            code = self._worker.run()
        except Exception:
            log.exception("camera worker crashed")
        finally:
            # Also when the worker ended by itself (stuck reader): its clips are written
            # before the manager sees the exit code and replaces the actor.
            self._worker.close(flush_clips=True)
            log.info("camera %s: worker stopped (exit code %d)", self._worker.camera.id, code)
            self._exit_code = code

    def poll(self, since_frame_no: int) -> tuple[LiveUpdate, int | None, list[bytes]]:
        """Latest status and frame, the worker's exit code once it has ended, and the
        log lines since the last poll (cashwatch.worker.log_pipe)."""
        # the exit code before the lines: once it is set, every line of the ending
        # (logged before it was set) is in this reply, and the manager polls no more
        exit_code = self._exit_code
        update = self.state.poll(since_frame_no)
        return update, exit_code, self.take_log_lines()

    def take_log_lines(self) -> list[bytes]:
        """The log lines since the last poll (the manager's last call after a stop)."""
        return self.log_lines.take() if self.log_lines is not None else []

    def stop(self, timeout_s: float) -> int:
        """Stop reading, finish the clips, close the journal; returns the exit code
        (EXIT_STUCK when the worker did not end within `timeout_s`: not a clean exit)."""
        from cashwatch.worker.process import EXIT_STUCK

        self._stop.set()
        if self._thread is None:  # never started (no credentials on this node)
            return self._exit_code or 0
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            return EXIT_STUCK
        return 0 if self._exit_code is None else self._exit_code
