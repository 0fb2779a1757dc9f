"""`POST /till/transactions` on the manager's HTTP port (the one serving `/metrics`):
a till or a payment system sends its transactions as JSON, with a token.

The body is one transaction object or a list of them, with the CSV's fields
(`till_id`, `at` as ISO 8601 or Unix seconds, `amount`, `currency`, `kind`,
`reference`). The answer says how many were taken and, by position, why each other one
was not. Fail closed: with no token configured (`[till] token_env` or `token`) the
endpoint refuses every request; a wrong token is 401; a body over 1 MiB is 413.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any

from cashwatch.store.journal import JournalWriter
from cashwatch.till.imports import journal_transactions
from cashwatch.till.transactions import Transaction, transaction_from

PATH = "/till/transactions"
MAX_BODY = 1 << 20
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _answer(start: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode("utf-8")
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def till_app(token: Callable[[], str | None], journal: JournalWriter) -> WsgiApp:
    """The endpoint; `token()` gives the current token (None: the endpoint is off)."""

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start, "405 Method Not Allowed", {"error": "POST transactions"})
        expected = token()
        if not expected:
            return _answer(
                start,
                "403 Forbidden",
                {"error": "the till endpoint is off: set [till] token_env (or token)"},
            )
        given = str(environ.get("HTTP_AUTHORIZATION", ""))
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            return _answer(start, "401 Unauthorized", {"error": "a valid Bearer token is needed"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            return _answer(
                start, "413 Content Too Large", {"error": f"a body of 1 to {MAX_BODY} bytes"}
            )
        try:
            body = json.loads(environ["wsgi.input"].read(length))
        except ValueError as exc:
            return _answer(start, "400 Bad Request", {"error": f"not JSON: {exc}"})
        items = body if isinstance(body, list) else [body]
        taken, rejected = _check(items)
        journal_transactions(journal, taken, "http")
        status = "200 OK" if taken or not rejected else "400 Bad Request"
        return _answer(start, status, {"imported": len(taken), "rejected": rejected})

    return app


def _check(items: list[Any]) -> tuple[list[Transaction], list[dict[str, Any]]]:
    taken: list[Transaction] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            rejected.append({"index": index, "reason": "not a JSON object"})
            continue
        try:
            taken.append(transaction_from(item))
        except ValueError as exc:
            rejected.append({"index": index, "reason": str(exc)})
    return taken, rejected
