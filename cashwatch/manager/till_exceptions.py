"""The manager's side of till exceptions: who watched each counter, and the event.

The judgement itself is a pure function (`cashwatch.till.exceptions.judge`). Here the
manager keeps what it needs for it, from the cameras' status records on each pass:
since when each camera on a till has run with detection, and the times it last saw a
customer in view (`customer_seen_ts`, kept for KEEP_S). A refund or no-sale reaching
the database is taken up on the next pass; the camera's live frame is kept then, as
the snapshot of that moment, when the transaction is that recent; once its window
closes it is judged, and an exception is journalled as a `till_exception` event (with
its end at once: it is a moment, not a behaviour) in the tills' journal.

A manager that restarts forgets who watched: transactions of the minutes before it
find no camera watching their whole window (`unwatched`) and are not raised twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import duckdb
import numpy as np

from cashwatch.config import LoadedConfig
from cashwatch.config.camera import CameraConfig
from cashwatch.core.event_types import event_type
from cashwatch.core.events import EventRecord
from cashwatch.detect.annotate import draw_zones, encode_snapshot
from cashwatch.evidence.snapshots import save_snapshot
from cashwatch.evidence.storage import EvidenceStore
from cashwatch.shm.frames import LiveFrame
from cashwatch.store.journal import JournalWriter
from cashwatch.till.exceptions import (
    EXCEPTION_KINDS,
    CounterView,
    ExceptionWindow,
    Judgement,
    judge,
)
from cashwatch.till.transactions import Transaction
from cashwatch.worker.process import DETECTION_DISABLED, DETECTION_WAITING

log = logging.getLogger("cashwatch.manager")

KEEP_S = 600.0  # customer sightings kept; a refund reported later than this is not judged
# a camera whose heartbeat or last frame is older than this is not watching (hung, stalled)
FRESH_S = 5.0
# what a camera saw reaches the manager's status a moment later, and its cash events the
# database later still: a transaction is judged this long after its window closed
SETTLE_S = 3.0
# a live frame this recent when the manager first sees the transaction shows its moment
SNAPSHOT_WITHIN_S = 20.0
JUDGED_KEPT = 4096  # transactions already judged, remembered so they are judged once
# the demo till opens its drawer with a no-sale while nobody is at its counter, at most
# this often, so the demo shows a till exception too
DEMO_NO_SALE_EVERY_S = 240.0
# ... and tries again this soon when someone was there after all (a camera's view of the
# counter reaches the manager a moment late: a guest may be stepping in)
DEMO_RETRY_S = 30.0
DEMO_PREFIX = "demo-no-sale-"

LiveFrames = Callable[[str], LiveFrame | None]


class CounterWatch:
    """Per camera on a till: since when it watches, and when it saw customers."""

    def __init__(self) -> None:
        self.since: dict[str, float] = {}
        self.seen: dict[str, deque[float]] = {}

    def update(
        self, records: Mapping[str, Mapping[str, Any]], cameras: list[str], now: float
    ) -> None:
        """Take in this pass' status records of the cameras on tills."""
        for camera_id in [c for c in self.since if c not in cameras]:
            del self.since[camera_id]  # removed, or its till_id taken away
            self.seen.pop(camera_id, None)
        for camera_id in cameras:
            record = records.get(camera_id) or {}
            if not _watching(record, now):
                self.since.pop(camera_id, None)  # a break: watching starts again later
                continue
            self.since.setdefault(camera_id, now)
            seen = self.seen.setdefault(camera_id, deque())
            ts = float(record.get("customer_seen_ts") or 0.0)
            if ts > (seen[-1] if seen else 0.0):
                seen.append(ts)
            while seen and seen[0] < now - KEEP_S:
                seen.popleft()

    def view(self, camera_id: str, cash_at: list[float]) -> CounterView:
        return CounterView(
            camera_id,
            self.since.get(camera_id),
            tuple(self.seen.get(camera_id, ())),
            tuple(cash_at),
        )


def _watching(record: Mapping[str, Any], now: float) -> bool:
    """Running, its frames and heartbeat fresh, and its pose model answering (a camera
    waiting for it, or whose detection failed to start, sees nobody). A degraded mode
    (the violence verifier down) still looks for people."""
    error = str(record.get("detection_error") or "")
    fresh = all(
        now - float(record.get(key) or 0.0) <= FRESH_S for key in ("heartbeat_ts", "last_frame_ts")
    )
    blind = error.startswith((DETECTION_WAITING, DETECTION_DISABLED))
    return bool(record.get("running")) and fresh and not blind


@dataclass
class _Pending:
    tx: Transaction
    frames: dict[str, LiveFrame]  # camera → its live frame when the manager first saw it


class TillExceptions:
    """Judges each refund and no-sale once; `step()` on each till pass."""

    def __init__(self, data_dir: Path, journal: JournalWriter) -> None:
        self.data_dir = data_dir
        self.journal = journal
        self.watch = CounterWatch()
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._judged: dict[tuple[str, str], str] = {}  # in judging order, bounded
        self._demo_rung: dict[str, float] = {}  # demo till → its last no-sale

    def observe(
        self, loaded: LoadedConfig, records: Mapping[str, Mapping[str, Any]], now: float
    ) -> None:
        """Every manager pass: who watches, and their customers (cheap: no I/O)."""
        self.watch.update(records, [c.id for c in _on_tills(loaded)], now)

    def step(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedConfig,
        live_frame: LiveFrames,
        now: float,
    ) -> None:
        """Take up new refunds and no-sales, judge those whose window closed."""
        cameras = _on_tills(loaded)
        if not cameras:
            return
        settings = loaded.app.till
        window = ExceptionWindow(
            settings.exception_before_s, settings.exception_after_s, settings.max_skew_s
        )
        self._take_up(con, cameras, live_frame, window, now)
        due = [p for p in self._pending.values() if now >= window.span(p.tx.at)[1] + SETTLE_S]
        if not due:
            return
        earliest = min(window.span(p.tx.at)[0] for p in due)
        cash = _cash_times(con, [c.id for c in cameras], earliest)
        for pending in due:
            tx = pending.tx
            views = [
                self.watch.view(c.id, cash.get(c.id, []))
                for c in cameras
                if c.till_id == tx.till_id
            ]
            found = judge(tx, views, window, now)
            if found.finding == "exception":
                self._raise(tx, found, pending, loaded)  # before it counts as judged
            else:
                log.info(
                    "till %s: %s %s judged %s", tx.till_id, tx.kind, tx.reference, found.finding
                )
            self._done((tx.till_id, tx.reference), found.finding)

    def demo_no_sales(self, loaded: LoadedConfig, now: float) -> list[Transaction]:
        """The demo tills' no-sales: one when a camera on the till has watched and seen
        no customer for longer than the window before (at most every few minutes)."""
        settings = loaded.app.till
        quiet_s = settings.exception_before_s + settings.max_skew_s + 0.5
        rung = []
        for till in settings.demo_tills:
            if now - self._demo_rung.get(till, -DEMO_NO_SALE_EVERY_S) < DEMO_NO_SALE_EVERY_S:
                continue
            for camera in _on_tills(loaded):
                since = self.watch.since.get(camera.id)
                seen = self.watch.seen.get(camera.id)
                if camera.till_id != till or since is None or not seen:
                    continue
                # a customer seen while it watched, and gone: the camera sees people, and
                # the guest has left (not one still walking in, unseen so far)
                if seen[-1] >= since and now - seen[-1] >= quiet_s:
                    reference = f"{DEMO_PREFIX}{int(now * 1000)}"
                    rung.append(Transaction(till, now, 0.0, "USD", "no_sale", reference))
                    self._demo_rung[till] = now
                    log.info("demo till %s: no-sale %s with nobody at the counter", till, reference)
                    break
        return rung

    def _take_up(
        self,
        con: duckdb.DuckDBPyConnection,
        cameras: list[CameraConfig],
        live_frame: LiveFrames,
        window: ExceptionWindow,
        now: float,
    ) -> None:
        """The refunds and no-sales not seen yet whose whole window is still remembered."""
        tills = sorted({c.till_id for c in cameras if c.till_id})
        marks = ", ".join("?" for _ in tills)
        kinds = ", ".join(f"'{k}'" for k in EXCEPTION_KINDS)
        rows = con.execute(
            "SELECT till_id, reference, epoch(rung_up_at), amount, currency, kind "
            f"FROM transactions WHERE kind IN ({kinds}) AND till_id IN ({marks}) "
            "AND rung_up_at > to_timestamp(?)",
            # sightings older than KEEP_S are forgotten: its window must lie after that
            [*tills, now - KEEP_S + window.before_s + window.max_skew_s],
        ).fetchall()
        for till_id, reference, at, amount, currency, kind in rows:
            key = (str(till_id), str(reference))
            if key in self._judged or key in self._pending:
                continue
            tx = Transaction(
                key[0], float(at), float(amount or 0.0), str(currency or ""), kind, key[1]
            )
            frames = {}
            if now - tx.at <= SNAPSHOT_WITHIN_S:
                for camera in cameras:
                    frame = live_frame(camera.id) if camera.till_id == tx.till_id else None
                    if frame is not None and now - frame.ts <= SNAPSHOT_WITHIN_S:
                        frames[camera.id] = frame
            self._pending[key] = _Pending(tx, frames)

    def _done(self, key: tuple[str, str], finding: str) -> None:
        self._pending.pop(key, None)
        if key[1].startswith(DEMO_PREFIX) and finding != "exception" and key[0] in self._demo_rung:
            self._demo_rung[key[0]] = min(
                self._demo_rung[key[0]], time.time() - DEMO_NO_SALE_EVERY_S + DEMO_RETRY_S
            )
        self._judged[key] = finding
        while len(self._judged) > JUDGED_KEPT:
            del self._judged[next(iter(self._judged))]

    def _raise(
        self, tx: Transaction, found: Judgement, pending: _Pending, loaded: LoadedConfig
    ) -> None:
        camera = next(c for c in loaded.app.cameras if c.id == found.camera_id)
        event_id = till_event_id(tx)
        frame = pending.frames.get(camera.id)
        details: dict[str, Any] = {
            "till_id": tx.till_id,
            "till_reference": tx.reference,
            "kind": tx.kind,
            "amount": tx.amount,
            "currency": tx.currency,
            "reason": f"{tx.kind.replace('_', ' ')} rung up with no customer in view",
        }
        snapshot_path = None
        if frame is None:
            details["snapshot_error"] = (
                "no live frame of that moment: the transaction reached the manager "
                f"more than {SNAPSHOT_WITHIN_S:.0f} s after it was rung up"
            )
        else:
            details["snapshot_ts"] = frame.ts
            try:
                rung = time.strftime("%H:%M:%S", time.localtime(tx.at))
                caption = f"{details['reason']} (till {tx.till_id}, {rung})"
                jpeg = till_snapshot(frame.image, camera, caption)
                relpath = save_snapshot(self.data_dir, camera.id, event_id, tx.at, jpeg)
                # where the workers put theirs: `[storage] url`, else the data folder
                store = EvidenceStore(self.data_dir, loaded.app.storage.url)
                snapshot_path = store.publish(self.data_dir / relpath, relpath)
            except Exception as exc:  # the event matters more than its picture
                details["snapshot_error"] = f"{type(exc).__name__}: {exc}"
        self.journal.emit_event(
            EventRecord(
                event_id=event_id,
                camera_id=camera.id,
                site=camera.site,
                event_type="till_exception",
                started_at=tx.at,
                ended_at=None,
                confidence=1.0,
                bbox=[0.0, 0.0, 1.0, 1.0],
                details=details,
                model="till",
                snapshot_path=snapshot_path,
                clip_error="no clip: the manager judges a till exception after its moment",
            )
        )
        self.journal.emit_end(event_id, tx.at)
        log.warning(
            "till exception on %s: %s %s of %.2f %s with no customer in view",
            camera.id,
            tx.kind,
            tx.reference,
            tx.amount,
            tx.currency,
        )


def on_till(camera: CameraConfig) -> bool:
    """Whether a camera can say who is at its till's counter: on a till, running, and
    looking for people (one running only the fire and tamper rules sees nobody, ever)."""
    return camera.till_id is not None and camera.enabled and camera.detection.needs_pose_model


def _on_tills(loaded: LoadedConfig) -> list[CameraConfig]:
    return [c for c in loaded.app.cameras if on_till(c)]


def _cash_times(
    con: duckdb.DuckDBPyConnection, camera_ids: list[str], since: float
) -> dict[str, list[float]]:
    marks = ", ".join("?" for _ in camera_ids)
    rows = con.execute(
        "SELECT camera_id, epoch(started_at) FROM events WHERE event_type = 'cash' "
        f"AND camera_id IN ({marks}) AND started_at >= to_timestamp(?)",
        [*camera_ids, since],
    ).fetchall()
    times: dict[str, list[float]] = {}
    for camera_id, at in rows:
        times.setdefault(str(camera_id), []).append(float(at))
    return times


def till_event_id(tx: Transaction) -> str:
    """The same for the same transaction: a repeated judgement upserts one row.

    >>> tx = Transaction("till-1", 1.5, 20.0, "USD", "refund", "r9")
    >>> till_event_id(tx) == till_event_id(tx), len(till_event_id(tx))
    (True, 29)
    """
    digest = hashlib.sha256(f"{tx.till_id}\0{tx.reference}".encode()).hexdigest()
    return f"{int(tx.at * 1000):013x}{digest[:16]}"


def till_snapshot(frame: np.ndarray, camera: CameraConfig, caption: str) -> bytes:
    """The live frame with the camera's zones and a caption saying what happened."""
    image = frame.copy()
    draw_zones(image, camera.zones)
    height, width = image.shape[:2]
    scale = max(0.4, width / 1280.0)
    band = int(34 * scale)
    colour = event_type("till_exception").colour.bgr
    cv2.rectangle(image, (0, height - band), (width, height), colour, -1)
    cv2.putText(
        image,
        caption,
        (int(8 * scale), height - int(10 * scale)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7 * scale,
        (255, 255, 255),
        max(1, round(2 * scale)),
        cv2.LINE_AA,
    )
    return encode_snapshot(image)
