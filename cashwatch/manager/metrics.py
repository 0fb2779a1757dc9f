"""The manager's Prometheus endpoint (`[metrics]`, docs/monitoring.md).

Nothing is counted twice: a custom collector asks its sources (the status table, the
manager's event counts, the ingestor, the alert targets) at every scrape and builds
the metric families from their answers, so the endpoint cannot drift from what the
CLI and the dashboard show. A source that fails leaves its own families out of that
scrape (and says so in `cashwatch_metrics_source_ok`); the rest are served.

The server runs on prometheus_client's daemon threads: the sources are called from
there, while the manager's loop goes on, so each must be safe to call from another
thread (`camera_records` reads the table under its sequence locks, `Ingestor.backlog`
reads snapshots).

>>> server = serve_metrics(loaded.app.metrics, sources)      # doctest: +SKIP
>>> server.close() if server else None                        # doctest: +SKIP
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from cashwatch.alerts.state import TargetState
from cashwatch.config.alerts import MetricsConfig
from cashwatch.store.ingest import IngestBacklog
from cashwatch.till.http import WsgiApp

log = logging.getLogger(__name__)

# A running camera whose newest frame is older than this is down: its worker still
# says "running" while a source that stopped sending is noticed and reopened. Above
# the dashboard's 3 s (a scrape every 15 s must not flap on one slow frame), far below
# the 60 s a camera-down alert waits.
PICTURE_STALE_S = 10.0
SOURCE_ERROR_LOG_EVERY_S = 60.0  # a failing source is logged this often, not per scrape
CLOSE_JOIN_S = 5.0
MIB = float(1 << 20)
CAMERA_SITE = ("camera", "site")
CAMERA = ("camera",)
TARGET = ("target",)

_FamilyKind = type[GaugeMetricFamily] | type[CounterMetricFamily]
_Samples = Iterable[tuple[Sequence[str], float]]


@dataclass(frozen=True)
class MetricsSources:
    """Where the collector reads at each scrape; each is called from the HTTP thread.

    Attributes:
        cameras: camera_id -> its record as `cashwatch.status.camera_records` gives it.
        events: (camera_id, event_type) -> events counted since the manager started.
        ingest: The journal lines waiting for the database (`Ingestor.backlog`).
        alerts: The alert targets' states.
    """

    cameras: Callable[[], Mapping[str, Mapping[str, Any]]]
    events: Callable[[], Mapping[tuple[str, str], int]]
    ingest: Callable[[], IngestBacklog]
    alerts: Callable[[], Sequence[TargetState]]


def camera_up(record: Mapping[str, Any], now: float) -> bool:
    """Running and its picture fresh (a frame within PICTURE_STALE_S)."""
    return record["state"] == "running" and now - float(record["last_frame_ts"]) < PICTURE_STALE_S


def skipped_frames(record: Mapping[str, Any]) -> dict[str, int]:
    """Frames sampled for detection but not looked at, by why. The worker's
    `frames_skipped` is today exactly motion + busy (cashwatch.worker.stats), so `other`
    stays 0; it is there so a skip counted in the total alone still shows."""
    motion, busy = int(record["skipped_motion"]), int(record["skipped_busy"])
    return {
        "motion": motion,
        "busy": busy,
        "other": max(0, int(record["frames_skipped"]) - motion - busy),
    }


def _family(
    kind: _FamilyKind, name: str, doc: str, labels: Sequence[str], samples: _Samples
) -> Metric:
    family = kind(name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


def camera_families(cameras: Mapping[str, Mapping[str, Any]], now: float) -> list[Metric]:
    """The per-camera families, from the cameras' records."""
    rows = sorted(cameras.items())
    sited = [((camera, str(record["site"])), record) for camera, record in rows]
    return [
        _family(
            GaugeMetricFamily,
            "cashwatch_camera_up",
            f"1 while the camera runs and its newest frame is under {PICTURE_STALE_S:.0f} s old.",
            CAMERA_SITE,
            ((labels, float(camera_up(record, now))) for labels, record in sited),
        ),
        _family(
            GaugeMetricFamily,
            "cashwatch_camera_fps",
            "Frames per second read from the camera.",
            CAMERA_SITE,
            ((labels, float(record["camera_fps"])) for labels, record in sited),
        ),
        _family(
            GaugeMetricFamily,
            "cashwatch_camera_detect_fps",
            "Frames per second the detection model looked at.",
            CAMERA_SITE,
            ((labels, float(record["detection_fps"])) for labels, record in sited),
        ),
        _family(
            CounterMetricFamily,
            "cashwatch_frames_skipped_total",
            "Frames sampled for detection but skipped: motion (nothing moved), busy "
            "(detection still on the previous one), other. Counts the worker's current run.",
            ("camera", "reason"),
            (
                ((camera, reason), float(count))
                for camera, record in rows
                for reason, count in skipped_frames(record).items()
            ),
        ),
        _family(
            CounterMetricFamily,
            "cashwatch_worker_restarts_total",
            "Restarts of the camera's worker after it failed, since the manager started.",
            CAMERA,
            (((camera,), float(record["restarts"])) for camera, record in rows),
        ),
        _family(
            GaugeMetricFamily,
            "cashwatch_worker_rss_bytes",
            "Resident memory of the camera's worker process.",
            CAMERA,
            (((camera,), float(record["rss_mib"]) * MIB) for camera, record in rows),
        ),
    ]


def event_families(events: Mapping[tuple[str, str], int]) -> list[Metric]:
    """Events by camera and type."""
    return [
        _family(
            CounterMetricFamily,
            "cashwatch_events_total",
            "Events detected since the manager started.",
            ("camera", "type"),
            ((key, float(count)) for key, count in sorted(events.items())),
        )
    ]


def ingest_families(backlog: IngestBacklog) -> list[Metric]:
    """The journal's lag behind the database."""
    return [
        GaugeMetricFamily(
            "cashwatch_ingest_lag_seconds",
            "How long the oldest journal line not yet in the database has waited, at most "
            "(0 when none waits).",
            value=backlog.lag_s,
        ),
        GaugeMetricFamily(
            "cashwatch_journal_backlog_lines",
            "Journal lines not yet in the database.",
            value=backlog.lines,
        ),
    ]


def alert_families(targets: Sequence[TargetState]) -> list[Metric]:
    """Per alert target: queue, counters since the manager started, failing."""
    ordered = sorted(targets, key=lambda target: target.name)

    def per_target(
        kind: _FamilyKind, name: str, doc: str, value: Callable[[TargetState], float]
    ) -> Metric:
        return _family(kind, name, doc, TARGET, (((t.name,), float(value(t))) for t in ordered))

    return [
        per_target(
            GaugeMetricFamily,
            "cashwatch_alerts_pending",
            "Alerts queued for the target and not yet taken.",
            lambda t: t.pending,
        ),
        per_target(
            CounterMetricFamily,
            "cashwatch_alerts_sent_total",
            "Alerts the target took.",
            lambda t: t.sent_total,
        ),
        per_target(
            CounterMetricFamily,
            "cashwatch_alerts_failed_total",
            "Tries to send to the target that failed.",
            lambda t: t.failed_total,
        ),
        per_target(
            CounterMetricFamily,
            "cashwatch_alerts_dropped_total",
            "Alerts given up on (older than [alerting] keep_hours).",
            lambda t: t.dropped_total,
        ),
        per_target(
            GaugeMetricFamily,
            "cashwatch_alert_target_failing",
            "1 while the target has failed [alerting] failing_after times in a row.",
            lambda t: t.failing,
        ),
    ]


class CashWatchCollector:
    """Builds every CashWatch family at scrape time from `MetricsSources`.

    Args:
        sources: What to read.
        clock: Wall-clock seconds, for the age of a camera's picture.
    """

    def __init__(self, sources: MetricsSources, clock: Callable[[], float] = time.time) -> None:
        self._groups: tuple[tuple[str, Callable[[], list[Metric]]], ...] = (
            ("cameras", lambda: camera_families(sources.cameras(), clock())),
            ("events", lambda: event_families(sources.events())),
            ("ingest", lambda: ingest_families(sources.ingest())),
            ("alerts", lambda: alert_families(sources.alerts())),
        )
        self._logged_at: dict[str, float] = {}  # source -> when its failure was last logged

    def collect(self) -> Iterator[Metric]:
        """The families of every source that answered, then which did."""
        yield GaugeMetricFamily("cashwatch_manager_up", "1 while the manager serves.", value=1)
        answered = GaugeMetricFamily(
            "cashwatch_metrics_source_ok",
            "1 when the source's families are in this scrape, 0 when reading it failed.",
            labels=("source",),
        )
        for name, build in self._groups:
            families = self._build(name, build)
            answered.add_metric((name,), float(families is not None))
            yield from families or ()
        yield answered

    def _build(self, name: str, build: Callable[[], list[Metric]]) -> list[Metric] | None:
        # built whole before any is yielded: a source failing half way leaves none of its
        # families half filled in
        try:
            return build()
        except Exception:
            self._log_failure(name)
            return None

    def _log_failure(self, name: str) -> None:
        # scrapes come every few seconds: one line a minute says it without flooding
        now = time.monotonic()
        if now - self._logged_at.get(name, -SOURCE_ERROR_LOG_EVERY_S) >= SOURCE_ERROR_LOG_EVERY_S:
            self._logged_at[name] = now
            log.warning(
                "metrics: reading %s failed; its metrics are left out until it answers",
                name,
                exc_info=True,
            )


class MetricsServer:
    """The running endpoint: prometheus_client's server and the thread serving it.

    Args:
        server: The HTTP server `start_http_server` made.
        thread: The thread running its `serve_forever`.
    """

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and free the port (a second call does nothing more)."""
        self._server.shutdown()  # returns at once once serve_forever has ended
        self._server.server_close()
        self._thread.join(CLOSE_JOIN_S)


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _QuietHandler(WSGIRequestHandler):
    """No line per request on the manager's stderr (a scrape every 15 s)."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _server(host: str, port: int, app: WsgiApp) -> WSGIServer:
    """prometheus_client's threading WSGI server, for an IPv6 address too."""

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    return make_server(host, port, app, Server, handler_class=_QuietHandler)


def _routed(metrics: WsgiApp, routes: Mapping[str, WsgiApp]) -> WsgiApp:
    """`/metrics` (and any other path, as prometheus_client answers them), plus routes."""

    def app(environ: dict[str, Any], start: Any) -> Iterable[bytes]:
        return routes.get(str(environ.get("PATH_INFO", "")), metrics)(environ, start)

    return app


def serve_metrics(
    config: MetricsConfig, sources: MetricsSources, routes: Mapping[str, WsgiApp] | None = None
) -> MetricsServer | None:
    """Serve `/metrics` on `config.host:config.port`, with the manager's own process
    metrics; None when disabled, or when the address cannot be had (logged: the manager
    runs on without metrics rather than not at all).

    Args:
        config: `[metrics]`.
        sources: What the collector reads at each scrape.
        routes: Other endpoints on the same port, by path (the till's POST).

    Returns:
        The server, to `close()` when the manager stops; None when not serving.
    """
    if not config.enabled:
        return None
    # a registry of its own: the global one would also carry whatever any library
    # registered there, and a second server in one process (the tests) would clash
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(CashWatchCollector(sources))
    where = _where(config.host, config.port)
    try:
        server = _server(config.host, config.port, _routed(make_wsgi_app(registry), routes or {}))
    except OSError as exc:  # the port taken, an address not on this machine
        log.error(
            "cannot serve metrics on %s: %s; choose a free `[metrics] port` (or another "
            "`[metrics] host`, or `[metrics] enabled = false`); the manager runs on without "
            "metrics",
            where,
            exc.strerror or exc,
        )
        return None
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("metrics served at http://%s/metrics", where)
    return MetricsServer(server, thread)
