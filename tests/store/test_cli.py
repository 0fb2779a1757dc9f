"""`cashwatch events`: filters and every output format, read from a real database."""

from __future__ import annotations

import argparse
import csv
import io
import json
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from cashwatch.store import cli
from cashwatch.store.db import DatabaseBusyError, open_writable
from cashwatch.store.ingest import Ingestor
from cashwatch.store.journal import JournalWriter, encode_record, submit_review, write_line
from cashwatch.store.schema import MIGRATIONS
from tests.conftest import REPO
from tests.harness import wait_for
from tests.store.builders import make_record

MADE_AT: dict[str, float] = {}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # "now" when the data is made, not when the module was collected: in a full run
    # collection happens minutes before these tests, which would age "--since 5m" data
    now = MADE_AT["now"] = time.time()
    tmp_path = tmp_path_factory.mktemp("events-cli")
    path = tmp_path / "cashwatch.toml"
    path.write_text("# events CLI test: data_dir is this folder\n")
    journal = JournalWriter(tmp_path, "lobby")
    journal.emit_event(make_record("recent-fire", camera_id="lobby", started_at=now - 600))
    journal.emit_event(
        make_record("recent-cash", camera_id="lobby", started_at=now - 60, event_type="cash")
    )
    journal.emit_clip("recent-cash", "clips/x/lobby/recent-cash.mp4", None)
    JournalWriter(tmp_path, "desk").emit_event(
        make_record(
            "old-fight", camera_id="desk", started_at=now - 3 * 86400, event_type="violence"
        )
    )
    assert Ingestor(tmp_path).poll() == 4
    return path


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cashwatch events")
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def test_table_lists_newest_first(config: Path, capsys) -> None:
    assert _run(["--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["started", "camera", "type", "conf", "review", "clip", "event_id"]
    assert [line.split()[-1] for line in lines[1:4]] == ["recent-cash", "recent-fire", "old-fight"]
    assert lines[1].split()[3:6] == ["cash", "0.80", "pending"] and "yes" in lines[1]
    assert lines[-1] == "3 event(s)"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--since", "2h"], {"recent-cash", "recent-fire"}),
        (["--since", "5m"], {"recent-cash"}),
        (["--camera", "desk"], {"old-fight"}),
        (["--camera", "desk", "--camera", "lobby", "--type", "violence"], {"old-fight"}),
        (["--type", "fire"], {"recent-fire"}),
        (
            ["--since", (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")],
            {"recent-cash", "recent-fire"},
        ),
    ],
)
def test_filters(config: Path, capsys, argv: list[str], expected: set[str]) -> None:
    assert _run(["--config", str(config), "--format", "json", *argv]) == 0
    assert {item["event_id"] for item in json.loads(capsys.readouterr().out)} == expected


def test_json_and_csv_carry_every_column(config: Path, capsys, tmp_path: Path) -> None:
    assert _run(["--config", str(config), "--format", "json", "--type", "cash"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["details"] == {"frames": 3} and item["bbox"] == [1.0, 2.0, 30.0, 40.0]
    assert item["clip_path"] == "clips/x/lobby/recent-cash.mp4"
    started = datetime.fromisoformat(item["started_at"]).timestamp()
    assert started == pytest.approx(MADE_AT["now"] - 60, abs=1)

    out = tmp_path / "events.csv"
    assert _run(["--config", str(config), "--format", "csv", "--output", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 3 and set(rows[0]) == set(cli.COLUMNS)
    assert json.loads(rows[0]["details"]) == {"frames": 3}


def test_parquet_needs_an_output_and_writes_it(config: Path, capsys, tmp_path: Path) -> None:
    assert _run(["--config", str(config), "--format", "parquet"]) == 2
    assert "--output" in capsys.readouterr().err
    out = tmp_path / "events.parquet"
    assert (
        _run(
            [
                "--config",
                str(config),
                "--format",
                "parquet",
                "--output",
                str(out),
                "--camera",
                "lobby",
            ]
        )
        == 0
    )
    table = pq.read_table(out)
    assert table.num_rows == 2 and set(table.column("camera_id").to_pylist()) == {"lobby"}


def test_expired_evidence_and_the_reviewer_are_shown(tmp_path: Path, capsys) -> None:
    config = tmp_path / "cashwatch.toml"
    config.write_text("")
    journal = JournalWriter(tmp_path, "lobby")
    journal.emit_event(make_record("gone", camera_id="lobby", started_at=time.time() - 600))
    journal.emit_clip("gone", "clips/x/lobby/gone.mp4", None)
    JournalWriter(tmp_path, "_manager").append(
        "expire", {"event_id": "gone", "expired_at": time.time()}
    )
    submit_review(tmp_path, "gone", "confirmed", "", reviewed_by="alice")
    assert Ingestor(tmp_path).poll() == 4

    assert _run(["--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[-2:] == ["expired", "gone"]
    assert _run(["--config", str(config), "--format", "json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert (item["clip_path"], item["reviewed_by"]) == (None, "alice")
    assert item["evidence_expired_at"] and item["reviewed_at"]


def test_bad_since_names_the_value_and_the_valid_forms() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"'yesterday'.*2h.*2025-01-31"):
        cli.parse_since("yesterday")


def test_no_database_yet_is_a_clear_error(tmp_path: Path, capsys) -> None:
    config = tmp_path / "cashwatch.toml"
    config.write_text("")
    assert _run(["--config", str(config)]) == 1
    assert "no event database" in capsys.readouterr().err


def test_a_missing_config_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert _run(["--config", str(tmp_path / "nope.toml")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.fixture(scope="module")
def many_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 events: the CSV (~80 KiB) is more than a pipe's 64 KiB buffer."""
    tmp_path = tmp_path_factory.mktemp("many-events")
    path = tmp_path / "cashwatch.toml"
    path.write_text("")
    journal = JournalWriter(tmp_path, "lobby")
    lines = b"".join(
        encode_record(
            "event",
            make_record(
                f"evt-{index:05d}", camera_id="lobby", started_at=time.time() - index
            ).to_json_dict(),
        )
        for index in range(600)
    )
    write_line(journal._current_fd(), lines)  # one fsync for all: reading is under test
    ingestor, ingested = Ingestor(tmp_path), 0
    while ingested < 600:  # a poll takes a bounded batch
        batch = ingestor.poll()
        assert batch > 0, f"ingest stalled at {ingested}"
        ingested += batch
    return path


def test_a_reader_that_stops_early_is_not_an_error(many_events: Path) -> None:
    """`cashwatch events | head -1`: the pipe closes after one line, long before the
    output is written."""
    piped = subprocess.run(
        f"{sys.executable} -m cashwatch.cli events --format csv "
        f"--config {many_events} | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert piped.stdout.startswith("started_at,") and "event_id" in piped.stdout, piped.stdout
    assert piped.stderr == "", piped.stderr
    assert piped.returncode == 0


def test_a_slow_reader_does_not_hold_the_database(many_events: Path) -> None:
    """`cashwatch events | less`: while the pager waits for a key, the manager must still
    be able to store events, so the rows are fetched and the file closed before printing."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cashwatch.cli",
            "events",
            "--format",
            "csv",
            "--config",
            str(many_events),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        # output has started, and the pipe is full long before all of it is written
        assert select.select([proc.stdout], [], [], 30)[0], "no output within 30 s"
        wait_for(lambda: _writable(many_events.parent), 5, "the manager's write access")
        assert proc.poll() is None, "still blocked on the full pipe: the test means something"
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def _writable(data_dir: Path) -> bool:
    try:
        open_writable(data_dir).close()
    except DatabaseBusyError:
        return False
    return True


def test_an_old_schema_is_explained_not_a_traceback(tmp_path: Path, capsys) -> None:
    with duckdb.connect(str(tmp_path / "cashwatch.duckdb")) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMPTZ)")
        for statement in MIGRATIONS[0][1]:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (1, now())")
    (tmp_path / "cashwatch.toml").write_text("")
    assert _run(["--config", str(tmp_path / "cashwatch.toml")]) == 1
    error = capsys.readouterr().err
    assert "schema version 1" in error and "cashwatch run" in error
