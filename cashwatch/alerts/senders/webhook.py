"""Webhook alerts: one signed JSON POST per alert, over urllib (no extra dependency).

The body is the alert's `to_json()` with the snapshot inline as base64, so a receiver
needs one JSON parser and nothing else, and a line for people (`text`) in the target's
language. The URL is a secret (it may carry a token in its path, query or user part):
errors name the host and port only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any

from cashwatch.alerts.message import Alert
from cashwatch.alerts.senders.base import SendError
from cashwatch.config.alerts import MissingSecret, WebhookTarget
from cashwatch.i18n import DEFAULT, speaking

USER_AGENT = "CashWatch-alerts/1"
SIGNATURE_HEADER = "X-CashWatch-Signature"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuses to follow redirects: a 3xx is a failure.

    A redirect would re-send the alert (and its signature) to an address nobody
    configured, and urllib turns a redirected POST into a GET that drops the body.
    """

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def sign(key: str, body: bytes) -> str:
    """The `X-CashWatch-Signature` value for `body`: `sha256=<hex HMAC-SHA256>`.

    Args:
        key: The target's signing key.
        body: The exact bytes POSTed.

    Returns:
        The header value a receiver recomputes and compares (in constant time).
    """
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def webhook_body(target: WebhookTarget, alert: Alert, snapshot: bytes | None) -> bytes:
    """The JSON bytes POSTed for an alert.

    Args:
        target: The target; its `language` is the language of `text` (none: English,
            unless the manager filled in `[dashboard] language`, `with_language`).
        alert: The alert.
        snapshot: The snapshot JPEG, if any.

    Returns:
        UTF-8 JSON: `alert.to_json()` (its fields machine-readable, the same in every
        language), `text` (the alert in one line for people, `Alert.title`, in the
        target's language: what a chat bot can post as it is) and `snapshot_jpeg_base64`
        (a string or null).
    """
    body = alert.to_json()
    with speaking(target.language or DEFAULT):
        body["text"] = alert.title
    body["snapshot_jpeg_base64"] = (
        base64.b64encode(snapshot).decode("ascii") if snapshot is not None else None
    )
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookSender:
    """Sends each alert as one JSON POST to the target's URL.

    Any 2xx answer means taken; any other answer, a redirect included, a refused or
    timed-out connection or a name that does not resolve raises `SendError`.

    Args:
        target: The `[[alerts]]` entry (kind "webhook").
    """

    def __init__(self, target: WebhookTarget) -> None:
        self.name = target.name
        self._target = target
        url = urllib.parse.urlsplit(target.url.get_secret_value())
        self._where = _host_port(url)
        # urllib does not turn user:password@ in a URL into Basic auth; do it here so such
        # a URL works, and take the credentials out of the address connected to.
        self._auth: str | None = None
        if url.username is not None:
            user = urllib.parse.unquote(url.username)
            password = urllib.parse.unquote(url.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._auth = f"Basic {token}"
            url = url._replace(netloc=url.netloc.rpartition("@")[2])
        self._url = urllib.parse.urlunsplit(url)
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, alert: Alert, snapshot: bytes | None) -> None:
        """POST the alert; return once the receiver answered 2xx.

        Args:
            alert: The alert.
            snapshot: The snapshot JPEG, if any.

        Raises:
            SendError: Not taken; the message names the host:port, never the URL.
        """
        body = webhook_body(self._target, alert, snapshot)
        request = urllib.request.Request(self._url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        request.add_header("X-CashWatch-Alert-Id", alert.alert_id)
        request.add_header("Idempotency-Key", alert.alert_id)
        if self._auth is not None:
            request.add_header("Authorization", self._auth)
        try:
            key = self._target.signing_key()
        except MissingSecret as error:
            raise SendError(str(error)) from None
        if key is not None:
            request.add_header(SIGNATURE_HEADER, sign(key, body))
        try:
            with self._opener.open(request, timeout=self._target.timeout_s) as response:
                _drain(response)
                status = int(response.status)
        except urllib.error.HTTPError as error:
            error.close()
            raise SendError(f"HTTP {error.code} from {self._where}") from None
        except (OSError, http.client.HTTPException) as error:
            # `from None`: the chained exception's text may hold the full URL
            raise SendError(self._reason(error)) from None
        if not 200 <= status < 300:
            raise SendError(f"HTTP {status} from {self._where}")

    def close(self) -> None:
        """Nothing to release: each send opens and closes its own connection."""

    def _reason(self, error: BaseException) -> str:
        """Why a request failed, in words, naming host:port only."""
        if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
            error = error.reason
        if isinstance(error, TimeoutError):
            return f"no answer from {self._where} within {self._target.timeout_s:g} s"
        if isinstance(error, ConnectionRefusedError):
            return f"connection refused by {self._where}"
        if isinstance(error, socket.gaierror):
            return f"cannot resolve the host of {self._where}"
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"TLS certificate of {self._where} not trusted: {error.verify_message}"
        if isinstance(error, ssl.SSLError):
            return f"TLS error with {self._where}: {error.reason}"
        if isinstance(error, ConnectionError | http.client.HTTPException):
            return f"connection to {self._where} broken ({type(error).__name__})"
        # other errors' text is not known to be free of the URL: give their kind only
        return f"request to {self._where} failed ({type(error).__name__})"


def _drain(response: IO[bytes]) -> None:
    """Read the answer to its end (bounded), so the server is not cut off mid-reply."""
    response.read(1 << 20)


def _host_port(url: urllib.parse.SplitResult) -> str:
    """`host:port` of a URL: what errors may show of it."""
    host = url.hostname or "?"
    if ":" in host:
        host = f"[{host}]"  # IPv6
    try:
        port = url.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if url.scheme == "https" else 80
    return f"{host}:{port}"
