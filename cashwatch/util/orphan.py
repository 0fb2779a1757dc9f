"""A helper child that ends with the process that started it.

The model exporters run as children of the manager (`run_exporter`), for seconds to
minutes and up to a gigabyte of torch. A manager stopped or killed during a first-run
export would otherwise leave its exporter working on, for nobody: its half-made folder
is removed as stale on the next start anyway (`remove_stale_exports`).
"""

from __future__ import annotations

import os
import threading
import time

EXIT_ORPHANED = 3
CHECK_EVERY_S = 0.5
# The starter's pid, set by it in the child's environment (`parent_environment`): a
# starter killed before the child got to `exit_with_parent` is then noticed too.
PARENT_PID_VARIABLE = "CASHWATCH_PARENT_PID"


def parent_environment() -> dict[str, str]:
    """This process's environment, naming it as the parent, for a child to be started.

    Returns:
        A copy of `os.environ` with `CASHWATCH_PARENT_PID` set to this process's pid.
    """
    return dict(os.environ, **{PARENT_PID_VARIABLE: str(os.getpid())})


def exit_with_parent(check_every_s: float = CHECK_EVERY_S) -> threading.Thread:
    """Exit this process (status 3, at once) once the process that started it is gone.

    A daemon thread compares the parent's pid with the starter's (`CASHWATCH_PARENT_PID`
    when the starter set it, else the parent's at the call): a parent that exits leaves
    the child to another (init, or a subreaper).

    Args:
        check_every_s: How often the parent is looked for.

    Returns:
        The watching thread (started).
    """
    parent = int(os.environ.get(PARENT_PID_VARIABLE) or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(check_every_s)  # a poll of the parent's pid; no event to wait on
        os._exit(EXIT_ORPHANED)  # no cleanup: the half-made export is discarded as stale

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
