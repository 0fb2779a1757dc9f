"""A real manager process for tests, and config builders.

Everything polls with a deadline; nothing sleeps in place of a condition.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import tomlkit

from cashwatch.shm import segments
from cashwatch.shm.status import StatusTable
from cashwatch.status import ManagerNotRunning, read_status

REPO = Path(__file__).resolve().parents[1]

NO_DETECTION = {
    "cash": {"enabled": False},
    "violence": {"enabled": False},
    "fire": {"enabled": False},
    "tamper": {"enabled": False},
}


def camera_entry(camera_id: str, source: str | Path, **extra: Any) -> dict[str, Any]:
    """A [[cameras]] entry; detection off unless `detection=` is given (no model load)."""
    entry: dict[str, Any] = {"id": camera_id, "source": str(source), "detection": NO_DETECTION}
    entry.update(extra)
    return entry


def write_config(path: Path, cameras: list[dict[str, Any]], **sections: Any) -> Path:
    doc: dict[str, Any] = {
        "manager": {"heartbeat_timeout_s": 8.0, "backoff_initial_s": 1.0, "stop_timeout_s": 5.0},
        # off unless a test serves them: two managers of one test would share the port
        "metrics": {"enabled": False},
    }
    for key, value in sections.items():
        if isinstance(value, list):  # an array of tables: [[alerts]]
            doc[key] = value
        else:
            doc.setdefault(key, {}).update(value)
    doc["cameras"] = cameras
    text = tomlkit.dumps(doc)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


@contextlib.contextmanager
def heartbeat(table: StatusTable) -> Iterator[None]:
    """This process stands in for a live manager: its heartbeat refreshed twice a second
    (readers take a table whose heartbeat is older than a few seconds for no manager)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            table.set_header(manager_pid=os.getpid(), manager_heartbeat_ts=time.time())
            stop.wait(0.5)

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join()


def wait_for(
    condition: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.1
) -> Any:
    """Poll `condition` until it returns something truthy; fail with `what`."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (ManagerNotRunning, KeyError, FileNotFoundError) as exc:
            last_error = exc
        time.sleep(interval_s)
    raise AssertionError(
        f"timed out after {timeout_s} s waiting for {what}"
        + (f" (last error: {last_error})" if last_error else "")
    )


class ManagerProcess:
    """`cashwatch run --config PATH` as a real subprocess."""

    def __init__(
        self, config: Path, data_dir: Path | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.config = config
        self.extra_args = extra_args  # e.g. ("--ray", address)
        self.data_dir = data_dir or config.parent
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = config.parent / "manager-stdout.log"

    def start(self, wait: bool = True) -> ManagerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cashwatch.cli",
                "run",
                "--config",
                str(self.config),
                *self.extra_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
        if wait:
            wait_for(lambda: self.status() is not None, 60, "the manager to publish status")
        return self

    def status(self) -> dict[str, Any]:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"manager exited with {self.proc.returncode}:\n{self.log()}")
        return read_status(self.data_dir)

    def workers(self) -> dict[str, dict[str, Any]]:
        return self.status()["workers"]

    def worker(self, camera_id: str) -> dict[str, Any]:
        return self.workers()[camera_id]

    def wait_state(self, camera_id: str, state: str, timeout_s: float = 30) -> dict[str, Any]:
        return wait_for(
            lambda: (r := self.workers().get(camera_id)) and r["state"] == state and r,
            timeout_s,
            f"{camera_id} to be {state}",
        )

    def log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-4000:]

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout_s: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> ManagerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def db_events(data_dir: Path) -> list[dict[str, Any]]:
    """Every event row, oldest first, through a short read-only connection."""
    from cashwatch.store.db import DatabaseMissingError, connect_readonly

    try:
        with connect_readonly(data_dir) as conn:
            cursor = conn.execute("SELECT * FROM events ORDER BY started_at")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except DatabaseMissingError:
        return []


def shm_segments(data_dir: Path) -> list[str]:
    return segments.existing_segments(data_dir)


def cli(*args: str, config: Path, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cashwatch.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
    )


def status_json(config: Path) -> dict[str, Any]:
    result = cli("status", "--json", config=config)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
