"""The service's loop: accept cameras, gather their requests, run batches, answer.

One thread, one selector: requests are small, the model call is the only long step,
and one thread owns the runtime (one CUDA context on a GPU). When a request comes in,
the loop waits up to `batch_wait_s` more for other cameras' requests before it runs, so
a burst on several cameras goes through the model in one call.

Video requests (the violence verifier's windows, served by the first service only) take
the video model ~0.4-1.2 s each on a CPU core, fifty or more pose looks: they queue, and
run one at a time on the video model's own thread (`VideoLane`), so pose requests never
wait for a window.

Fire requests (a user's fire model, asked only while a camera's fire rule has sustained
flame colours) run after the pose batches of the same pass, one at a time: a 320-px
detection, tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.detect.model import BatchPoseModel
from cashwatch.detect.video_verifier import VideoFeatures
from cashwatch.inference.batching import Pending, make_batches, split_expired
from cashwatch.inference.protocol import (
    FIRE,
    VIDEO,
    VIDEO_WINDOW_SHAPE,
    ModelInfo,
    ProtocolError,
    poses_to_bytes,
    send_message,
    take_message,
)
from cashwatch.inference.slots import InputSlot
from cashwatch.inference.video_lane import Finished, VideoLane
from cashwatch.rules.fire import FireConfirmer
from cashwatch.shm import segments
from cashwatch.shm.services import ServiceReport

log = logging.getLogger("cashwatch.inference")

REPORT_EVERY_S = 0.5
MAX_BATCH = 8
_PEERCRED = struct.Struct("3i")  # pid, uid, gid


@dataclass
class _Client:
    sock: socket.socket
    number: int
    buffer: bytearray = field(default_factory=bytearray)
    # per connection: a camera slot freed and made again for another camera is a new
    # segment under the old name, and its new worker comes on a new connection
    slots: dict[str, InputSlot] = field(default_factory=dict)
    # a camera's video-verifier or fire-model connection: it sends no pose requests, so
    # the pose batch does not wait for it
    sends_no_pose: bool = False


@dataclass(frozen=True)
class FireModels:
    """The fire models a service hosts, by their weights' path (as cameras name them).

    Attributes:
        loaded: The models that loaded.
        errors: Why each of the others did not (a camera asking one gets this answer).
    """

    loaded: Mapping[str, FireConfirmer] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    def why_not(self, weights: str, service: str) -> str:
        """Why `weights` is not served here: its load error, or that it is not hosted."""
        return self.errors.get(weights) or (
            f"{service} hosts no fire model {weights} (the manager loads the fire models "
            "the cameras name, in inference-0)"
        )


@dataclass
class _Period:
    """What the report's means are taken over; reset at each report."""

    queue_max: int = 0
    batches: int = 0
    batched: int = 0
    batch_max: int = 0
    model_ms: float = 0.0


class InferenceServer:
    """Serves `models` to camera workers on the socket `listener` listens on.

    Args:
        models: By name ("pose"), the models this service runs.
        listener: A bound, listening Unix socket.
        data_dir: Whose input slots may be read (names of other installations are not).
        report: Called with the service's report every REPORT_EVERY_S.
        batch_wait_s: How long a request waits for others to batch with.
        run_id: The run the manager started, written into every report.
        video: The video model (the violence verifier's), when this service hosts it.
        no_video: Without `video`, what a video request is answered (why there is none).
        fire: The fire models it hosts (a user's, confirming the fire rule).
    """

    def __init__(
        self,
        models: Mapping[str, BatchPoseModel],
        listener: socket.socket,
        data_dir: Path,
        report: Callable[[ServiceReport], None],
        batch_wait_s: float,
        run_id: str,
        video: VideoFeatures | None = None,
        no_video: str = "this service hosts no video model",
        fire: FireModels | None = None,
    ) -> None:
        self.models = dict(models)
        self.fire = fire or FireModels()
        self.video = video
        self.no_video = no_video
        self._video_prefix = segments.prefix_for(data_dir) + "v"
        self._video_ms = 0.0
        self.infos = {
            name: ModelInfo(model.name, model.imgsz, model.static_hw).as_json()
            for name, model in self.models.items()
        }
        self.listener = listener
        self.report = report
        self.batch_wait_s = batch_wait_s
        self.run_id = run_id
        self._slot_prefix = segments.prefix_for(data_dir) + "m"
        self._selector = selectors.DefaultSelector()
        self._clients: dict[int, _Client] = {}
        self._next_client = 0
        self._pending: list[Pending] = []  # pose and fire requests
        self._videos: deque[Pending] = deque()  # video requests, oldest first
        self._lane: VideoLane[Pending] | None = (
            VideoLane(lambda window: video.features(window)[0]) if video is not None else None
        )
        self._totals = {"requests": 0, "batches": 0, "dropped": 0, "failed": 0, "videos": 0}
        self._period = _Period()
        self._uid = os.getuid()

    # loop ---------------------------------------------------------------------------
    def serve(self, stopped: Callable[[], bool]) -> None:
        """Run until `stopped()` says so; closes every connection and slot at the end."""
        self.listener.setblocking(False)
        self._selector.register(self.listener, selectors.EVENT_READ)
        if self._lane is not None:
            self._selector.register(self._lane.wake, selectors.EVENT_READ)
        next_report = 0.0
        try:
            while not stopped():
                self._poll(REPORT_EVERY_S if not self._pending else 0.0)
                if (
                    self._pending
                    and self.batch_wait_s > 0
                    and len(self._pending) < self._pose_clients()
                ):
                    self._poll(self.batch_wait_s)  # others' requests may be on their way
                if self._pending:
                    self._run_pending()
                self._feed_lane()
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + REPORT_EVERY_S
                    self.report(self._report())
        finally:
            self.close()

    def _poll(self, timeout_s: float) -> None:
        for key, _ in self._selector.select(timeout_s):
            if key.fileobj is self.listener:
                self._accept()
            elif self._lane is not None and key.fileobj is self._lane.wake:
                for done in self._lane.finished():
                    self._answer_video(done)
            elif (client := self._clients.get(int(key.data))) is not None:
                self._read(client)  # (not one dropped earlier in this round)
        self._period.queue_max = max(self._period.queue_max, self._queue_len())

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        uid = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        )[1]
        if uid != self._uid:  # the folder is owner-only already; this is the second lock
            log.warning(
                "refused a connection from uid %d (this service runs as %d)", uid, self._uid
            )
            sock.close()
            return
        client = _Client(sock, self._next_client)
        self._next_client += 1
        try:
            send_message(sock, {"models": self.infos})
        except OSError:
            sock.close()
            return
        sock.setblocking(False)
        self._clients[client.number] = client
        self._selector.register(sock, selectors.EVENT_READ, data=client.number)

    def _read(self, client: _Client) -> None:
        try:
            chunk = client.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop_client(client)
            return
        client.buffer += chunk
        try:
            while (message := take_message(client.buffer)) is not None:
                request = self._parse(client, message[0])
                if request.model == VIDEO and self.video is None:
                    self._answer_error(request, self.no_video)  # at once: nothing to wait for
                elif request.model == FIRE and request.weights not in self.fire.loaded:
                    self._answer_error(request, self.fire.why_not(request.weights, "this service"))
                elif request.model == VIDEO:
                    self._videos.append(request)
                else:
                    self._pending.append(request)
        except (ProtocolError, KeyError, TypeError, ValueError) as exc:
            log.warning("closing a camera's connection that sent a bad request: %s", exc)
            self._drop_client(client)

    def _pose_clients(self) -> int:
        return sum(1 for client in self._clients.values() if not client.sends_no_pose)

    def _parse(self, client: _Client, header: dict[str, Any]) -> Pending:
        model, slot = str(header["model"]), str(header["slot"])
        if model == VIDEO:
            client.sends_no_pose = True
            prefix, kind = self._video_prefix, "video slot"
            side = VIDEO_WINDOW_SHAPE[1]
            input_hw = frame_hw = (side, side)
        else:
            if model == FIRE:
                client.sends_no_pose = True
            elif model not in self.models:
                raise ValueError(
                    f"no model {model!r} here (this service runs {sorted(self.models)})"
                )
            prefix, kind = self._slot_prefix, "input slot"
            input_hw = (int(header["h"]), int(header["w"]))
            frame_hw = (int(header["fh"]), int(header["fw"]))
        if not slot.startswith(prefix):
            raise ValueError(f"{kind} {slot!r} is not one of this installation's")
        return Pending(
            client=client.number,
            request_id=int(header["id"]),
            model=model,
            slot=slot,
            input_hw=input_hw,
            frame_hw=frame_hw,
            deadline=float(header["deadline"]),
            received=time.monotonic(),
            weights=str(header["weights"]) if model == FIRE else "",
        )

    def _drop_client(self, client: _Client) -> None:
        self._clients.pop(client.number, None)
        self._pending = [p for p in self._pending if p.client != client.number]
        self._videos = deque(p for p in self._videos if p.client != client.number)
        with contextlib.suppress(KeyError, ValueError):  # never registered, or closed
            self._selector.unregister(client.sock)
        client.sock.close()
        for slot in client.slots.values():
            slot.close()

    # running ------------------------------------------------------------------------
    def _run_pending(self) -> None:
        live, expired = split_expired(self._pending, time.time())
        self._pending = []
        self._drop_expired(expired)
        for batch in make_batches([r for r in live if r.model != FIRE], MAX_BATCH):
            self._run_batch(batch)
        for request in live:
            if request.model == FIRE:
                self._run_fire(request)

    def _drop_expired(self, expired: list[Pending]) -> None:
        for request in expired:
            self._totals["dropped"] += 1
            self._answer_error(request, "dropped: its deadline passed while it waited")

    def _queue_len(self) -> int:
        return len(self._pending) + len(self._videos)

    def _run_fire(self, request: Pending) -> None:
        """One frame through the fire model it names (asked only while flames persist)."""
        if request.client not in self._clients:
            return
        try:
            image = self._slot(request).read(*request.input_hw)
        except (OSError, ValueError) as exc:
            self._totals["failed"] += 1
            self._answer_error(request, f"cannot read its input: {exc}")
            return
        started = time.perf_counter()
        try:
            score = self.fire.loaded[request.weights].confirm(image)
        except Exception as exc:  # the pose requests of every camera must go on
            log.exception("the fire model %s failed on a frame", request.weights)
            self._totals["failed"] += 1
            self._answer_error(request, f"the fire model failed: {type(exc).__name__}: {exc}")
            return
        ms = (time.perf_counter() - started) * 1000.0
        self._send(
            request.client,
            {"id": request.request_id, "ok": True, "conf": score, "ms": round(ms, 2)},
        )

    def _feed_lane(self) -> None:
        """Start the oldest waiting video window whose camera still waits, if the video
        model's thread is free (the ones past their deadline are dropped first)."""
        if self._lane is None or self._lane.busy or not self._videos:
            return
        live, expired = split_expired(list(self._videos), time.time())
        self._drop_expired(expired)
        self._videos = deque(live)
        while self._videos:
            request = self._videos.popleft()
            if request.client not in self._clients:
                continue
            try:
                window = self._slot(request).read_array(VIDEO_WINDOW_SHAPE)
            except (OSError, ValueError) as exc:
                self._totals["failed"] += 1
                self._answer_error(request, f"cannot read its video window: {exc}")
                continue
            self._lane.start(request, window)
            return

    def _answer_video(self, done: Finished[Pending]) -> None:
        """Send a finished window's features (or why there are none) to its camera."""
        if done.features is None:
            self._totals["failed"] += 1
            self._answer_error(done.job, done.error)
            return
        self._video_ms = done.ms
        self._totals["videos"] += 1
        header = {"id": done.job.request_id, "ok": True, "ms": round(done.ms, 2)}
        self._send(done.job.client, header, done.features.tobytes())

    def _run_batch(self, batch: list[Pending]) -> None:
        readable: list[tuple[Pending, np.ndarray]] = []
        for request in batch:
            if request.client not in self._clients:  # it went away meanwhile
                continue
            try:
                image = self._slot(request).read(*request.input_hw)
            except (OSError, ValueError) as exc:
                self._totals["failed"] += 1
                self._answer_error(request, f"cannot read its input: {exc}")
                continue
            readable.append((request, image))
        if not readable:
            return
        model = self.models[batch[0].model]
        started = time.perf_counter()
        try:
            found = model.predict_letterboxed(
                [image for _, image in readable], [r.frame_hw for r, _ in readable]
            )
        except Exception as exc:  # one bad batch must not end the service for everyone
            log.exception("the %s model failed on a batch of %d", batch[0].model, len(readable))
            for request, _ in readable:
                self._totals["failed"] += 1
                self._answer_error(request, f"the model failed: {type(exc).__name__}: {exc}")
            return
        model_ms = (time.perf_counter() - started) * 1000.0
        self._count_batch(len(readable), model_ms)
        for (request, _), poses in zip(readable, found, strict=True):
            header = {
                "id": request.request_id,
                "ok": True,
                "n": len(poses),
                "batch": len(readable),
                "ms": round(model_ms, 2),
            }
            self._send(request.client, header, poses_to_bytes(poses))

    def _count_batch(self, size: int, model_ms: float) -> None:
        self._totals["requests"] += size
        self._totals["batches"] += 1
        period = self._period
        period.batches += 1
        period.batched += size
        period.batch_max = max(period.batch_max, size)
        period.model_ms += model_ms

    def _slot(self, request: Pending) -> InputSlot:
        slots = self._clients[request.client].slots
        slot = slots.get(request.slot)
        if slot is None:
            slot = slots[request.slot] = InputSlot.attach(request.slot)
        return slot

    def _answer_error(self, request: Pending, error: str) -> None:
        self._send(request.client, {"id": request.request_id, "ok": False, "error": error})

    def _send(self, number: int, header: dict[str, Any], body: bytes = b"") -> None:
        client = self._clients.get(number)
        if client is None:  # it went away while its request waited
            return
        try:
            send_message(client.sock, header, body)
        except OSError:  # gone, or not reading (its buffer full): it reconnects
            self._drop_client(client)

    # reporting ----------------------------------------------------------------------
    def _report(self) -> ServiceReport:
        period, totals = self._period, self._totals
        self._period = _Period()
        return ServiceReport(
            run_id=self.run_id,
            state="running",
            heartbeat_ts=time.time(),
            models=", ".join(
                [f"{n}={m.name}" for n, m in self.models.items()]
                + (["video=i3d"] if self.video is not None else [])
                + [f"fire={Path(weights).name}" for weights in self.fire.loaded]
            ),
            clients=len(self._clients),
            queue_len=self._queue_len(),
            queue_max=period.queue_max,
            requests=totals["requests"],
            batches=totals["batches"],
            batch_mean=period.batched / period.batches if period.batches else 0.0,
            batch_max=period.batch_max,
            inference_ms=period.model_ms / period.batches if period.batches else 0.0,
            dropped=totals["dropped"],
            failed=totals["failed"],
            videos=totals["videos"],
            video_ms=self._video_ms,
        )

    def close(self) -> None:
        if self._lane is not None:
            self._lane.close()
        for client in list(self._clients.values()):
            self._drop_client(client)
        self._selector.close()
        self.listener.close()
