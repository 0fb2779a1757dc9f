"""The manager's /metrics endpoint, scraped over HTTP from a real status table."""

from __future__ import annotations

import logging
import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cashwatch.alerts.state import TargetState
from cashwatch.config.alerts import MetricsConfig
from cashwatch.manager.metrics import MetricsServer, MetricsSources, serve_metrics
from cashwatch.shm.status import StatusTable, WorkerStatus
from cashwatch.status import camera_records
from cashwatch.store.ingest import IngestBacklog

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def table(tmp_path: Path) -> Iterator[StatusTable]:
    table = StatusTable.create(tmp_path, 4, tmp_path / "c.toml")
    yield table
    table.close()


@pytest.fixture
def config() -> MetricsConfig:
    with socket.socket() as probe:  # a port free right now, on loopback only
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return MetricsConfig(host="127.0.0.1", port=port)


@pytest.fixture
def started() -> Iterator[list[MetricsServer]]:
    servers: list[MetricsServer] = []
    yield servers
    for server in servers:
        server.close()


def _camera(table: StatusTable, slot: int, camera_id: str, frame_age_s: float, **worker) -> None:
    run_id = f"run-{camera_id}"
    table.update_manager(
        slot,
        camera_id=camera_id,
        site="lobby",
        state="starting",
        run_id=run_id,
        pid=os.getpid(),
        restarts=3,
        rss_mib=100.0,
    )
    table.write_worker(
        slot,
        WorkerStatus(
            run_id=run_id,
            state="running",
            last_frame_ts=time.time() - frame_age_s,
            heartbeat_ts=time.time(),
            **worker,
        ),
    )


def _sources(table: StatusTable, **overrides) -> MetricsSources:
    fields = {
        "cameras": lambda: camera_records(table),
        "events": lambda: {("cam1", "fire"): 2, ("cam1", "violence"): 1},
        "ingest": lambda: IngestBacklog(lines=5, lag_s=12.5),
        "alerts": lambda: [
            TargetState("hook", "webhook", pending=2, sent_total=3, failed_total=4, failing=True),
            TargetState("mail", "email", sent_total=1),
        ],
    }
    return MetricsSources(**{**fields, **overrides})


def _serve(config: MetricsConfig, sources: MetricsSources, started: list) -> MetricsServer:
    server = serve_metrics(config, sources)
    assert server is not None
    started.append(server)
    return server


def _scrape(port: int) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, labels), and every family's type."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: Samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, types


def _of(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def test_a_scrape_reports_cameras_events_ingest_and_alerts(
    table: StatusTable, config: MetricsConfig, started: list
) -> None:
    _camera(
        table,
        0,
        "cam1",
        frame_age_s=0.1,
        camera_fps=12.5,
        detection_fps=4.0,
        frames_skipped=9,
        skipped_motion=7,
        skipped_busy=2,
    )
    _camera(table, 1, "cam2", frame_age_s=60.0)  # "running", but its picture froze
    server = _serve(config, _sources(table), started)
    samples, types = _scrape(server.port)

    lobby = (("camera", "cam1"), ("site", "lobby"))
    assert _of(samples, "cashwatch_camera_up") == {
        lobby: 1.0,
        (("camera", "cam2"), ("site", "lobby")): 0.0,
    }
    assert samples[("cashwatch_camera_fps", lobby)] == 12.5
    assert samples[("cashwatch_camera_detect_fps", lobby)] == 4.0
    skipped = _of(samples, "cashwatch_frames_skipped_total")
    assert {labels[1][1]: value for labels, value in skipped.items() if labels[0][1] == "cam1"} == {
        "motion": 7.0,
        "busy": 2.0,
        "other": 0.0,
    }
    assert samples[("cashwatch_worker_restarts_total", (("camera", "cam1"),))] == 3.0
    assert samples[("cashwatch_worker_rss_bytes", (("camera", "cam1"),))] == 100 * 2**20
    assert _of(samples, "cashwatch_events_total") == {
        (("camera", "cam1"), ("type", "fire")): 2.0,
        (("camera", "cam1"), ("type", "violence")): 1.0,
    }
    assert samples[("cashwatch_journal_backlog_lines", ())] == 5.0
    assert samples[("cashwatch_ingest_lag_seconds", ())] == 12.5
    hook, mail = (("target", "hook"),), (("target", "mail"),)
    assert _of(samples, "cashwatch_alerts_pending") == {hook: 2.0, mail: 0.0}
    assert _of(samples, "cashwatch_alerts_sent_total") == {hook: 3.0, mail: 1.0}
    assert _of(samples, "cashwatch_alerts_failed_total") == {hook: 4.0, mail: 0.0}
    assert _of(samples, "cashwatch_alert_target_failing") == {hook: 1.0, mail: 0.0}
    assert samples[("cashwatch_manager_up", ())] == 1.0
    assert samples[("process_resident_memory_bytes", ())] > 0  # the manager's own
    assert types["cashwatch_frames_skipped"] == types["cashwatch_events"] == "counter"
    assert types["cashwatch_camera_up"] == "gauge"


def test_a_camera_with_no_run_reporting_is_down_with_zero_rates(
    table: StatusTable, config: MetricsConfig, started: list
) -> None:
    table.update_manager(0, camera_id="cam1", site="lobby", state="error", error="no source")
    samples, _ = _scrape(_serve(config, _sources(table), started).port)
    lobby = (("camera", "cam1"), ("site", "lobby"))
    assert samples[("cashwatch_camera_up", lobby)] == 0.0
    assert samples[("cashwatch_camera_fps", lobby)] == 0.0


def test_a_failing_source_leaves_out_its_families_only(
    table: StatusTable, config: MetricsConfig, started: list, caplog: pytest.LogCaptureFixture
) -> None:
    _camera(table, 0, "cam1", frame_age_s=0.1)

    def broken() -> list[TargetState]:
        raise OSError("alerts/state.json: disk gone")

    server = _serve(config, _sources(table, alerts=broken), started)
    with caplog.at_level(logging.WARNING, logger="cashwatch.manager.metrics"):
        samples, _ = _scrape(server.port)
        _scrape(server.port)
    names = {name for name, _ in samples}
    assert not any(name.startswith("cashwatch_alert") for name in names)
    assert samples[("cashwatch_metrics_source_ok", (("source", "alerts"),))] == 0.0
    assert samples[("cashwatch_metrics_source_ok", (("source", "cameras"),))] == 1.0
    assert samples[("cashwatch_camera_up", (("camera", "cam1"), ("site", "lobby")))] == 1.0
    assert samples[("cashwatch_journal_backlog_lines", ())] == 5.0
    failures = [r for r in caplog.records if "reading alerts failed" in r.getMessage()]
    assert len(failures) == 1, "logged once a minute, not on every scrape"
    assert "disk gone" in caplog.text


def test_a_taken_port_is_logged_and_the_manager_goes_on(
    table: StatusTable, config: MetricsConfig, started: list, caplog: pytest.LogCaptureFixture
) -> None:
    first = _serve(config, _sources(table), started)
    with caplog.at_level(logging.ERROR, logger="cashwatch.manager.metrics"):
        assert serve_metrics(config, _sources(table)) is None
    assert f"127.0.0.1:{config.port}" in caplog.text
    assert "[metrics] port" in caplog.text
    assert _scrape(first.port)[0][("cashwatch_manager_up", ())] == 1.0  # the first serves on


def test_close_frees_the_port_and_disabled_serves_nothing(
    table: StatusTable, config: MetricsConfig, started: list
) -> None:
    _serve(config, _sources(table), started).close()
    started.clear()
    _serve(config, _sources(table), started)  # the same port again
    disabled = MetricsConfig(enabled=False, port=config.port)
    assert serve_metrics(disabled, _sources(table)) is None
