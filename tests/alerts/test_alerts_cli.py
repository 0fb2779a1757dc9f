"""`cashwatch alerts` and the alerts section of `cashwatch status`, run in-process on a
real config, real state files and a real status table (this process standing in for the
manager where one must run)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashwatch.alerts.state import TargetState, read_suspended, write_state, write_suspended
from cashwatch.alerts.summary import local_time
from cashwatch.alerts_cli import probe_alert
from cashwatch.cli import main
from cashwatch.manager.requests import take_requests
from cashwatch.shm.status import StatusTable
from tests.harness import camera_entry, heartbeat, write_config
from tests.support.alert_receivers import HttpReceiver

ALERTS = """
[[alerts]]
name = "ops"
kind = "webhook"
url = "https://hooks.example/cashwatch"
types = ["cash", "violence"]

[[alerts]]
name = "ha"
kind = "mqtt"
host = "broker.local"

[[alerts]]
name = "bad"
kind = "webhook"
url = "ftp://hooks.example/x"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("door", "demo:walk"), camera_entry("till", "demo:handover")],
    )
    path.write_text(path.read_text() + ALERTS)
    return path


@pytest.fixture
def manager(config: Path) -> Iterator[Path]:
    """A status table with this process as its live manager (a fresh heartbeat)."""
    table = StatusTable.create(config.parent, 4, config)
    with heartbeat(table):
        yield config
    table.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_targets_with_their_state_the_broken_ones_and_suspensions(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = config.parent
    write_state(
        data_dir,
        [
            TargetState(
                "ops",
                "webhook",
                pending=4,
                sent_total=12,
                failed_total=7,
                failing=True,
                last_error="HTTP 503 from https://admin:s3cret@hooks.example/cashwatch",
            ),
            TargetState("ha", "mqtt", sent_total=16),
        ],
    )
    until = time.time() + 600
    write_suspended(data_dir, {"door": until, "till": time.time() - 5})
    code, out, _ = run(capsys, "alerts", "list", "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["target", "kind", "pending", "sent", "failed", "status", "filters"]
    assert lines[1].split()[:6] == ["ops", "webhook", "4", "12", "7", "failing"]
    assert "types cash,violence" in lines[1]
    assert lines[2].strip() == "error: HTTP 503 from https://admin:***@hooks.example/cashwatch"
    assert lines[3].split()[:6] == ["ha", "mqtt", "0", "16", "0", "ok"]
    assert f"door: alerts suspended until {local_time(until)}" in lines
    assert "till" not in out, "a suspension that is over is not shown"
    assert any(line.startswith("bad: REJECTED") and "http://" in line for line in lines)
    assert "note:" not in out, "the state is fresh"

    code, out, _ = run(capsys, "alerts", "list", "--json", "--config", str(config))
    document = json.loads(out)
    assert [t["name"] for t in document["targets"]] == ["ops", "ha"]
    assert document["targets"][0]["failing"] is True and document["targets"][0]["pending"] == 4
    assert set(document["broken"]) == {"bad"} and set(document["suspended"]) == {"door"}


def test_list_says_when_no_manager_wrote_the_state(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "alerts", "list", "--config", str(config))
    assert code == 0
    assert "ops" in out and "ha" in out, "configured targets show with zeros"
    assert "note: no manager has written the alert state yet" in out


def test_suspend_without_a_manager_leaves_the_request_for_its_next_start(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = time.time()
    code, out, _ = run(capsys, "alerts", "suspend", "door", "--for", "30m", "--config", str(config))
    assert code == 0
    assert "no manager is running" in out and "next start" in out
    [request] = take_requests(config.parent)
    assert request["action"] == "suspend_alerts" and request["camera_id"] == "door"
    assert before + 1800 <= request["until"] <= time.time() + 1800


def test_resume_asks_for_a_suspension_that_ends_now(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = time.time()
    code, _, _ = run(capsys, "alerts", "resume", "till", "--config", str(config))
    assert code == 0
    [request] = take_requests(config.parent)
    assert request["camera_id"] == "till" and before <= request["until"] <= time.time()


def test_suspend_waits_until_the_manager_recorded_it(
    manager: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = manager.parent
    stop = threading.Event()

    def take() -> None:  # what the manager does with the request on its next loop
        while not stop.wait(0.1):
            for request in take_requests(data_dir):
                write_suspended(data_dir, {request["camera_id"]: request["until"]})

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    try:
        code, out, _ = run(
            capsys, "alerts", "suspend", "door", "--for", "1h", "--config", str(manager)
        )
    finally:
        stop.set()
        taker.join()
    assert code == 0
    until = read_suspended(data_dir)["door"]
    assert out.strip() == f"door: alerts suspended until {local_time(until)}"


def test_suspend_fails_when_the_manager_does_not_take_it_in_time(
    manager: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "alerts",
        "suspend",
        "door",
        "--for",
        "5m",
        "--timeout",
        "0.5",
        "--config",
        str(manager),
    )
    assert code == 1
    assert "did not take the request for door" in err


@pytest.mark.parametrize("duration", ["7x", "30", "48h", "10s"])
def test_a_bad_duration_is_refused_naming_it(
    config: Path, capsys: pytest.CaptureFixture[str], duration: str
) -> None:
    code, _, err = run(
        capsys, "alerts", "suspend", "door", "--for", duration, "--config", str(config)
    )
    assert code == 2
    assert repr(duration) in err
    assert not (config.parent / "requests").exists() or not take_requests(config.parent)


def test_an_unknown_camera_is_refused_listing_the_cameras(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "alerts", "suspend", "dor", "--for", "5m", "--config", str(config))
    assert code == 2
    assert "'dor'" in err and "door, till" in err


def test_testing_an_unknown_target_lists_the_targets(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "alerts", "test", "opps", "--config", str(config))
    assert code == 2
    assert "'opps'" in err and "targets: ops, ha" in err
    code, _, err = run(capsys, "alerts", "test", "bad", "--config", str(config))
    assert code == 2
    assert "left out" in err and "http://" in err, "a broken entry says why"


def test_status_shows_the_alert_targets_after_the_cameras(
    manager: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_state(manager.parent, [TargetState("ops", "webhook", failing=True, last_error="down")])
    code, out, _ = run(capsys, "status", "--config", str(manager))
    assert code == 0
    lines = out.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("target"))
    assert lines[heading + 1].split() == ["ops", "webhook", "0", "0", "0", "failing"]
    assert lines[heading + 2].strip() == "error: down"
    assert lines[heading + 3].split()[:2] == ["ha", "mqtt"]

    code, out, _ = run(capsys, "status", "--json", "--config", str(manager))
    alerts = json.loads(out)["alerts"]
    assert [t["name"] for t in alerts["targets"]] == ["ops", "ha"]
    assert alerts["targets"][0]["failing"] is True and alerts["suspended"] == {}


def test_status_leaves_the_alerts_out_when_there_are_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("door", "demo:walk")])
    table = StatusTable.create(tmp_path, 4, config)
    try:
        table.set_header(manager_pid=os.getpid(), manager_heartbeat_ts=time.time())
        code, out, _ = run(capsys, "status", "--json", "--config", str(config))
        assert code == 0 and "alerts" not in json.loads(out)
    finally:
        table.close()


def test_the_test_alert_is_a_test_from_cashwatch_itself() -> None:
    first, second = probe_alert(now=1000.0), probe_alert(now=1000.0)
    assert first.phase == "test" and first.event_type == "test"
    assert first.camera_id == "cashwatch" and first.alert_id.startswith("test-")
    assert first.alert_id != second.alert_id, "receivers drop duplicates by alert_id"
    assert first.title.startswith("Test alert at CashWatch")
    assert first.to_json()["has_snapshot"] is False


def test_a_test_alert_goes_straight_to_the_target_and_says_whether_it_arrived(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HttpReceiver() as receiver:
        path = write_config(tmp_path / "cashwatch.toml", [camera_entry("door", "demo:walk")])
        hook = f'[[alerts]]\nname = "hook"\nkind = "webhook"\nurl = "{receiver.url}/h?t=s3cret"\n'
        path.write_text(path.read_text() + hook)
        code, out, _ = run(capsys, "alerts", "test", "hook", "--config", str(path))
        assert code == 0 and "sent to hook" in out
        body = receiver.wait_for(timeout_s=2).json()
        assert body["phase"] == "test" and body["event_type"] == "test"

        receiver.up = False
        code, _, err = run(capsys, "alerts", "test", "hook", "--config", str(path))
        assert code == 1 and "HTTP 503" in err and "s3cret" not in err
