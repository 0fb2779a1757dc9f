"""The admin's commands around the config: check, users, dashboard, and no surprise files."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashwatch.launcher import DashboardMissing, _demo_status, _require_app
from tests.conftest import REPO
from tests.harness import camera_entry, heartbeat, wait_for, write_config

PASSWORD = "a long passphrase 43"


def cashwatch(
    *args: str, cwd: Path = REPO, stdin: str = "", timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # no CASHWATCH_CONFIG from outside
    return subprocess.run(
        [sys.executable, "-m", "cashwatch.cli", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "cashwatch.toml",
        [
            camera_entry("door", "demo:walk", site="lobby"),
            camera_entry("till", "demo:handover", site="bar"),
        ],
    )


def test_check_lists_cameras_and_fails_on_a_rejected_one(config: Path) -> None:
    good = cashwatch("check", "--config", str(config))
    assert good.returncode == 0, good.stderr
    assert "door: ok" in good.stdout and "2 camera(s) valid, 0 rejected" in good.stdout
    config.write_text(
        config.read_text()
        + '\n[[cameras]]\nid = "bad"\nsource = "ftp://x/y"\n'
        + '\n[[cameras]]\nid = "cam"\nsource = "rtsp://op:s3cret@10.0.0.5/s"\n'
        + '\n[[cameras]]\nid = "cam2"\nsource = "rtmp://op:s3cret@10.0.0.6/s"\n'
    )
    bad = cashwatch("check", "--config", str(config))
    assert bad.returncode == 1
    assert "bad: REJECTED" in bad.stdout and "'ftp'" in bad.stdout and "rtsp" in bad.stdout
    assert "cam: ok  rtsp://op:***@10.0.0.5/s" in bad.stdout and "cam2: REJECTED" in bad.stdout
    assert "s3cret" not in bad.stdout, "passwords are masked in what an admin may paste"


def test_users_take_config_after_the_subcommand_and_refuse_unknown_sites(config: Path) -> None:
    typo = cashwatch(
        "users",
        "add",
        "bob",
        "--role",
        "operator",
        "--site",
        "lobbby",
        "--password-stdin",
        "--config",
        str(config),
        stdin=PASSWORD + "\n",
    )
    assert typo.returncode == 2
    assert "'lobbby'" in typo.stderr and "sites: bar, lobby" in typo.stderr
    added = cashwatch(
        "users",
        "add",
        "bob",
        "--role",
        "operator",
        "--site",
        "lobby",
        "--password-stdin",
        "--config",
        str(config),
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    listed = cashwatch("users", "list", "--config", str(config))
    assert listed.stdout.strip() == "bob\toperator\tlobby"
    assert (config.parent / "users.json").exists(), "kept beside the config's data folder"


@pytest.mark.parametrize("command", [["status"], ["users", "list"], ["events"], ["stop", "door"]])
def test_commands_other_than_run_do_not_create_a_demo_config(
    tmp_path: Path, command: list[str]
) -> None:
    result = cashwatch(*command, cwd=tmp_path)
    assert result.returncode in (1, 2)
    assert "does not exist" in result.stderr and "--config" in result.stderr
    assert list(tmp_path.iterdir()) == [], "nothing written in the working folder"


def test_dashboard_listens_where_the_config_says(config: Path) -> None:
    port = _free_port()
    config.write_text(config.read_text() + f"\n[dashboard]\nport = {port}\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(config.parent)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cashwatch.cli", "dashboard", "--config", str(config)],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as response:
                    return bool(response.status == 200)
            except OSError:
                assert proc.poll() is None, "the dashboard exited"
                return False

        wait_for(healthy, 60, f"the dashboard on port {port}", interval_s=0.3)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}" in output


def test_dashboard_on_a_taken_port_exits_non_zero(config: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cashwatch("dashboard", "--config", str(config), "--port", str(port))
    assert result.returncode != 0
    assert "not available" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("stopped_by_user", "manager", "dashboard", "expected"),
    [
        (True, -15, -15, 0),  # Ctrl-C: both children end by signal, a normal end
        (True, 3, 0, 3),  # the manager failed while stopping
        (False, None, 1, 1),  # the dashboard could not start (port taken): not a success
        (False, 2, None, 2),  # the manager refused its config
        (False, 0, None, 1),  # a child ended on its own, cleanly: the demo still stopped early
    ],
)
def test_demo_exit_status(
    stopped_by_user: bool, manager: int | None, dashboard: int | None, expected: int
) -> None:
    assert _demo_status(stopped_by_user, manager, dashboard) == expected


def test_without_app_py_the_dashboard_says_how_to_get_it(tmp_path: Path) -> None:
    """A wheel install has the package but not app.py and pages/ beside it."""
    with pytest.raises(DashboardMissing, match=r"does not exist.*make install"):
        _require_app(tmp_path / "app.py")
    _require_app()  # this checkout has it


LONG_ID = "front-desk-east-entrance-cam-042"  # 32 characters, the most a status record holds
SECRET = "pa/ss@w0rd"


@pytest.fixture
def published(tmp_path: Path) -> Iterator[Path]:
    """A real status table as a manager publishes it: this process stands in for the
    manager (its pid, a heartbeat kept fresh), with realistic long values, and texts
    holding a password written raw, as a manager that did not mask them would."""
    import os
    import time

    from cashwatch.shm.status import StatusTable, WorkerStatus

    config = write_config(tmp_path / "cashwatch.toml", [camera_entry(LONG_ID, "demo:walk")])
    table = StatusTable.create(tmp_path, 4, config)
    table.set_header(manager_pid=os.getpid(), manager_started_ts=time.time())
    url = f"rtsp://admin:{SECRET}@192.0.2.7:554/Streaming/Channels/101"
    table.update_manager(
        0,
        camera_id=LONG_ID,
        state="starting",
        run_id="run",
        pid=4194304,
        core=1,
        restarts=12345,
        start_ts=time.time() - 400_000,
        node="rack-7-node-with-a-long-hostname",
    )
    table.write_worker(
        0,
        WorkerStatus(
            run_id="run",
            state="running",
            camera_fps=25.0,
            detection_fps=2.0,
            frames_read=123456789,
            events_detected=1234567,
            reconnects=678,
        ),
    )
    raw = f"connection refused by 192.0.2.7:554 while reading {url} after 3 tries; " * 3
    table.workers["source_error"][0] = raw.encode()[:512]
    table.managers["source"][0] = url.encode()
    table.header["config_error"] = f"camera x: cannot parse {url}".encode()
    table.header["db_error"] = f"events cannot be stored: {url}".encode()
    with heartbeat(table):
        yield config
    table.close()


def test_status_fits_100_columns_and_wide_shows_every_column(published: Path) -> None:
    narrow = cashwatch("status", "--config", str(published))
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, "\n".join(lines)
    assert lines[0].split() == [
        "camera",
        "state",
        "pid",
        "fps",
        "det/s",
        "events",
        "restarts",
        "uptime",
    ]
    assert LONG_ID in lines[1] and "running" in lines[1] and "111:06:4" in lines[1]
    assert lines[2].startswith("  error: connection refused by 192.0.2.7:554")
    assert any(line.startswith("config error: camera x") for line in lines)
    assert any(line.startswith("database error: events cannot") for line in lines)

    wide = cashwatch("status", "--wide", "--config", str(published))
    assert wide.returncode == 0, wide.stderr
    from cashwatch.cli import STATUS_COLUMNS

    assert wide.stdout.splitlines()[0].split() == list(STATUS_COLUMNS)
    assert "rack-7-node-with-a-long-hostname" in wide.stdout and "123456789" in wide.stdout


def test_status_masks_errors_whoever_wrote_them(published: Path) -> None:
    import json

    for args in (("status",), ("status", "--wide"), ("status", "--json")):
        shown = cashwatch(*args, "--config", str(published))
        assert shown.returncode == 0, shown.stderr
        assert "w0rd" not in shown.stdout and "pa/ss" not in shown.stdout, shown.stdout
    document = json.loads(shown.stdout)  # --json: values masked
    assert set(document) == {"manager", "workers", "services"}
    record = document["workers"][LONG_ID]
    assert "admin:***@192.0.2.7:554" in record["last_error"]
    assert record["source"] == "rtsp://admin:***@192.0.2.7:554/Streaming/Channels/101"
    assert "admin:***@" in document["manager"]["config_error"]
    assert "admin:***@" in document["manager"]["db_error"]


def test_stop_help_says_the_stop_outlives_the_manager_and_how_to_undo_it() -> None:
    shown = cashwatch("stop", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())  # argparse wraps to the terminal's width
    assert "lasts across manager restarts" in text and "enabled = false" in text
    assert "cashwatch start CAMERA" in text


def test_run_with_ray_but_without_ray_installed_names_the_extra(config: Path) -> None:
    # A machine without Ray: its import fails as it would there (None in sys.modules).
    code = (
        "import sys; sys.modules['ray'] = None; from cashwatch.cli import main; "
        f"sys.exit(main(['run', '--ray', 'auto', '--config', {str(config)!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 2
    assert "pip install 'cashwatch[ray]'" in done.stderr, done.stderr
    assert not (config.parent / "logs").exists(), "nothing started"
