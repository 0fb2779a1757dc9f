"""What every local camera process goes through before any camera code runs.

`worker_main` is the target the manager spawns (cashwatch.manager.workers). This module
imports nothing heavy, and the camera's code (numpy, OpenCV, the runtimes) is imported
only once the process is set up, in this order:

1. environment defaults the camera's libraries read (`WORKER_ENV_DEFAULTS`); the malloc
   tunables and the model's offline switches are set by the manager before the spawn,
   since glibc reads the former at exec (cashwatch.worker.memory,
   `Manager._prepare_environment`);
2. the process title `cashwatch:<camera>`, for ps, top and psutil;
3. niceness: none by default, as before (the config has no knob for it yet);
4. `faulthandler`, dumping into the worker's log on a fatal signal;
5. logging: every record, masked, to the manager over the worker's own pipe
   (cashwatch.worker.log_pipe), which writes it into `logs/manager.log` naming the
   camera; without a pipe (a worker run by hand, a test), masked to stderr.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import setproctitle

from cashwatch.util.log_lines import MaskingFormatter
from cashwatch.worker.log_pipe import PipeEnd, PipeLogHandler
from cashwatch.worker.spec import WorkerSpec

if TYPE_CHECKING:  # multiprocessing's Event only types the argument
    from multiprocessing.synchronize import Event as MpEvent

    from cashwatch.worker.process import ExitNoteWriter

log = logging.getLogger("cashwatch.worker")

# Read by OpenCV's FFmpeg backend when a capture opens: RTSP over TCP, because UDP loses
# packets (smeared frames) on busy networks and through NAT. A value the user set wins.
# cashwatch.worker.capture sets the same for the other processes that open sources.
WORKER_ENV_DEFAULTS: Mapping[str, str] = {"OPENCV_FFMPEG_CAPTURE_OPTIONS": "rtsp_transport;tcp"}
# What a worker must find in its environment from its start, so set by the manager
# before spawning: setproctitle then writes the title over the arguments only. By
# default it also takes the environment's memory for a long title, which empties
# /proc/<pid>/environ, where an admin (and tests) check what a worker started with.
SPAWN_ENV: Mapping[str, str] = {"SPT_NOENV": "1"}


@dataclass(frozen=True)
class ProcessSetup:
    """How one camera process is set up."""

    camera_id: str
    # the write end of the worker's log pipe; None: log lines go to stderr
    log_pipe: PipeEnd | None = None
    nice_increment: int = 0  # added to the manager's niceness; 0 keeps it


def set_spawn_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """Put `SPAWN_ENV` in the environment workers are spawned with (a value already
    there wins)."""
    env = os.environ if environ is None else environ
    for name, value in SPAWN_ENV.items():
        env.setdefault(name, value)


def process_title(camera_id: str) -> str:
    """What ps and top show for a camera's process.

    >>> process_title("till-2")
    'cashwatch:till-2'
    """
    return f"cashwatch:{camera_id}"


def enter_worker_process(setup: ProcessSetup) -> None:
    """Set this process up as the camera's worker (the steps of the module's docstring)."""
    for name, value in WORKER_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)  # before any thread: nothing reads it meanwhile
    title = process_title(setup.camera_id)
    setproctitle.setproctitle(title)  # ps -o args, top
    # /proc/self/comm (ps -o comm, psutil's name()), cut there to 15 bytes; set on its
    # own because setproctitle gives up silently where it cannot find the arguments
    setproctitle.setthreadtitle(title)
    if setup.nice_increment:
        os.nice(setup.nice_increment)
    if setup.log_pipe is None:
        handler = stderr_handler(f"worker:{setup.camera_id}")
        faulthandler.enable(file=sys.stderr)
    else:
        handler = PipeLogHandler(setup.log_pipe, stderr_handler(f"worker:{setup.camera_id}"))
        # Written straight to the pipe's descriptor, since Python cannot run once a fatal
        # signal came; the manager relays it as the worker's plain output. Frames only
        # (file, line, function), never values: nothing there to mask.
        faulthandler.enable(file=setup.log_pipe.fileno())
    install_log_handler(handler)


def stderr_handler(who: str) -> logging.Handler:
    """Masked lines to this process' stderr, each naming `who`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(f"%(asctime)s {who} %(levelname)s %(message)s"))
    return handler


def install_masking_log(who: str, *more: logging.Handler) -> None:
    """This process' log lines, and the tracebacks Python prints by itself (an uncaught
    exception, in any thread), masked to stderr (a Ray actor: Ray copies its stderr to
    the manager's console), and to `more` handlers."""
    install_log_handler(stderr_handler(who), *more)


def install_log_handler(*handlers: logging.Handler) -> None:
    """`handlers` as this process' only log handlers; uncaught exceptions logged there."""
    # force: a handler already there (a library's) would write unmasked
    logging.basicConfig(level=logging.INFO, handlers=list(handlers), force=True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    log.critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:  # as the default hook: a thread's exit, not an error
        return
    name = args.thread.name if args.thread else "?"
    log.critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )


def worker_main(
    spec: WorkerSpec,
    mp_stop: MpEvent,
    exit_note: ExitNoteWriter | None = None,
    log_pipe: PipeEnd | None = None,
) -> None:
    """Entry point of a camera's process. `exit_note`: where a non-zero exit leaves its
    reason for the manager; `log_pipe`: where the process' log records go."""
    camera_id = str(spec.camera.get("id", "?"))
    enter_worker_process(ProcessSetup(camera_id=camera_id, log_pipe=log_pipe))
    log.info("camera %s: worker started (pid %d)", camera_id, os.getpid())
    from cashwatch.worker.process import run_worker_process  # the heavy imports, now

    run_worker_process(spec, mp_stop, exit_note)
