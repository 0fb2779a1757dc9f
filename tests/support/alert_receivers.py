"""Real receivers for alert tests: an HTTP server, a Mosquitto broker, an MQTT subscriber
and an SMTP server, all on 127.0.0.1 and free ports, each recording what it got.

Each is a context manager; each ``wait_for(predicate, timeout_s)`` polls what was
received until one item matches (returning it) or the deadline passes (TimeoutError)::

    with HttpReceiver() as hook:
        hook.status_codes = [500, 500]          # two failures, then 200s
        ...POST to hook.url + "/alert"...
        request = hook.wait_for(lambda r: r.path == "/alert", timeout_s=5)
        request.json()["alert_id"]

    with MosquittoBroker() as broker, MqttSubscriber(broker.port, "cashwatch/#") as sub:
        ...publish...
        sub.wait_for(lambda m: m.topic == "cashwatch/available" and m.text == "online")
        broker.stop()                            # an outage: clients are cut off
        broker.start()                           # back on the same port (no persistence)

    with SmtpReceiver() as smtp:
        ...send to 127.0.0.1:smtp.port...
        mail = smtp.wait_for(lambda m: "Violence" in m["Subject"])

``MosquittoBroker`` needs Debian's ``/usr/sbin/mosquitto``: without it the test skips,
or fails when ``CASHWATCH_REQUIRE_MQTT=1`` (CI). The pytest fixtures at the end give
each of them started, and stopped after the test.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import paho.mqtt.client as mqtt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from paho.mqtt.enums import CallbackAPIVersion

from tests.support import skip_unless_required
from tests.support.rtsp import accepts_tcp, free_port, wait_until

MOSQUITTO = Path("/usr/sbin/mosquitto")
REQUIRE_MQTT_ENV = "CASHWATCH_REQUIRE_MQTT"
HOST = "127.0.0.1"

T = TypeVar("T")


class _Recorder(Generic[T]):
    """A thread-safe list of what arrived, with a polling `wait_for`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []

    def _record(self, item: T) -> None:
        with self._lock:
            self._items.append(item)

    @property
    def received(self) -> list[T]:
        """A copy of everything received so far, oldest first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget what was received so far."""
        with self._lock:
            self._items.clear()

    def wait_for(
        self, predicate: Callable[[T], bool] = lambda _: True, timeout_s: float = 5.0
    ) -> T:
        """The first item received (so far or within `timeout_s`) that `predicate` accepts.

        Raises TimeoutError, listing what did arrive, when none does in time.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            for item in self.received:
                if predicate(item):
                    return item
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{type(self).__name__}: nothing matching within {timeout_s} s; "
                    f"received {self.received!r}"[:2000]
                )
            time.sleep(0.01)


# --- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """One request as the receiver got it (header names as sent; look up with `header`)."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name, or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class HttpReceiver(_Recorder[HttpRequest]):
    """A ThreadingHTTPServer on 127.0.0.1 that records every request and answers as told.

    Attributes:
        url: `http://127.0.0.1:<port>` (append any path and query).
        status_codes: The next answers, consumed one per request; then `default_status`.
            A 3xx answer carries `Location: /moved`.
        default_status: The answer once `status_codes` is used up (200).
        up: False makes every request answer 503 (recorded all the same).
        delay_s: How long to wait before answering (to test client timeouts).
    """

    def __init__(self) -> None:
        super().__init__()
        self.status_codes: list[int] = []
        self.default_status = 200
        self.up = True
        self.delay_s = 0.0
        self._server = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://{HOST}:{self.port}"
        # a short poll: close() waits up to one poll interval for serve_forever to notice
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _next_status(self) -> int:
        with self._lock:
            if not self.up:
                return 503
            if self.status_codes:
                return self.status_codes.pop(0)
            return self.default_status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = receiver._next_status()
                receiver._record(
                    HttpRequest(self.command, self.path, dict(self.headers.items()), body, status)
                )
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()


# --- MQTT ------------------------------------------------------------------------------------


def mosquitto_unavailable_reason() -> str | None:
    """Why a broker cannot run here, or None when it can."""
    if not MOSQUITTO.exists():
        return f"{MOSQUITTO} is missing (apt-get install mosquitto)"
    return None


def require_mosquitto() -> None:
    """Skip the test without Mosquitto; fail instead when CASHWATCH_REQUIRE_MQTT=1 (CI)."""
    skip_unless_required(mosquitto_unavailable_reason(), REQUIRE_MQTT_ENV)


class MosquittoBroker:
    """A Mosquitto broker on 127.0.0.1:`port`: anonymous, no persistence, own config.

    `stop()` kills it (clients see their connection drop) and `start()` brings it back
    on the same port with nothing retained, like a broker restarted without persistence.
    The broker's own log is in `log_path` for when a test fails.
    """

    def __init__(self, port: int | None = None, *, persistent: bool = False) -> None:
        """`persistent`: keep sessions and queued messages across `stop()`/`start()`, as
        a production broker does (a subscriber's session then misses nothing)."""
        require_mosquitto()
        self.host = HOST
        self.port = port or free_port()
        self._folder = Path(tempfile.mkdtemp(prefix="cashwatch-mosquitto-"))
        self.config_path = self._folder / "mosquitto.conf"
        self.log_path = self._folder / "mosquitto.log"
        # started as root, mosquitto drops to its own account: that one writes the store
        store = self._folder / "store"
        store.mkdir()
        store.chmod(0o777)
        self._folder.chmod(0o755)
        self.config_path.write_text(
            f"listener {self.port} {HOST}\n"
            "allow_anonymous true\n"
            + (
                f"persistence true\npersistence_location {store}/\n"
                if persistent
                else "persistence false\n"
            )
            + "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\n",
            encoding="utf-8",
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until its port accepts connections."""
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [str(MOSQUITTO), "-c", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_until(
                lambda: not self.running or accepts_tcp(self.port),
                timeout_s,
                f"mosquitto on port {self.port}",
            )
        except TimeoutError:
            self.stop()
            raise
        if not self.running:
            raise RuntimeError(
                f"mosquitto exited at start: {self.log_path.read_text(errors='replace')}"
            )

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 5 s) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)


@dataclass(frozen=True)
class MqttMessage:
    """One message a subscriber got."""

    topic: str
    payload: bytes
    retain: bool
    received_at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        """The payload as UTF-8 text."""
        return self.payload.decode("utf-8", "replace")

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


class MqttSubscriber(_Recorder[MqttMessage]):
    """A paho client subscribed to `topic_filter` (QoS 1) that records every message.

    It reconnects by itself after a broker outage and subscribes again. Entering waits
    until the first subscription is acknowledged, so retained messages are already on
    their way and nothing published after that is missed.
    """

    def __init__(
        self, port: int, topic_filter: str = "#", host: str = HOST, *, session: bool = False
    ) -> None:
        """`session`: a persistent session (clean_session off): what the broker queues for
        it while it is disconnected arrives when it is back (with a persistent broker,
        also across the broker's restart)."""
        super().__init__()
        self.topic_filter = topic_filter
        self._address = (host, port)
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-subscriber-{uuid.uuid4().hex[:8]}",
            clean_session=False if session else None,
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: Any, rcs: Any, props: Any
    ) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._record(MqttMessage(message.topic, bytes(message.payload), bool(message.retain)))

    def on(self, topic: str) -> list[MqttMessage]:
        """The messages received on exactly this topic, oldest first."""
        return [m for m in self.received if m.topic == topic]

    def __enter__(self) -> Self:
        self._client.connect(*self._address)
        self._client.loop_start()
        if not self._subscribed.wait(5.0):
            self.close()
            raise TimeoutError(f"no SUBACK for {self.topic_filter!r} within 5 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()


# --- SMTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One mail as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage  # parsed with email.policy.default: get_body(), iter_attachments()
    logged_in_as: str | None

    def __getitem__(self, header: str) -> Any:
        return self.message[header]

    def text(self) -> str:
        """The plain-text body."""
        body = self.message.get_body(("plain",))
        assert body is not None, "the mail has no text/plain part"
        return str(body.get_content())

    def attachments(self) -> dict[str, tuple[str, bytes]]:
        """`{filename: (content type, bytes)}` of the attachments."""
        found = {}
        for part in self.message.iter_attachments():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_filename() or ""] = (part.get_content_type(), payload)
        return found


class SmtpReceiver(_Recorder[ReceivedMail]):
    """An aiosmtpd server on 127.0.0.1:`port` that keeps every mail (parsed).

    No TLS (so `starttls = "require"` must fail against it). With `credentials` it offers
    AUTH (over the plain connection) and accepts only that user and password.
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.host = HOST
        self.port = free_port()
        self._credentials = credentials
        options: dict[str, Any] = {}
        if credentials is not None:
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self, hostname=HOST, port=self.port, **options)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self._credentials is None:
            return AuthResult(success=False, handled=False)
        user, password = self._credentials
        ok = data.login.decode() == user and data.password.decode() == password
        if not ok:
            return AuthResult(success=False, handled=False)  # aiosmtpd answers 535
        return AuthResult(success=True, auth_data=user)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd's hook: parse and keep the mail."""
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        user = session.auth_data if isinstance(session.auth_data, str) else None
        self._record(ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), message, user))
        return "250 Message accepted for delivery"

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    """A started `HttpReceiver`."""
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    """A started `MosquittoBroker` (skips without Mosquitto unless CASHWATCH_REQUIRE_MQTT=1)."""
    with MosquittoBroker() as broker:
        yield broker


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """A started `SmtpReceiver` without login."""
    with SmtpReceiver() as receiver:
        yield receiver
