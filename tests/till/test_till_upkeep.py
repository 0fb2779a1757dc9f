"""The manager's till round with a real journal and a real DuckDB file: the inbox is
imported (a bad line named, the rest taken), hand-overs get their outcome, the demo till
rings up two in three, and `cashwatch events` shows `till_match`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cashwatch.config import parse_config
from cashwatch.manager.till import TillUpkeep
from cashwatch.store.ingest import Ingestor
from cashwatch.store.journal import JournalWriter
from cashwatch.till.imports import till_journal
from tests.store.builders import query

CONFIG = """
[till]
window_before_s = 60.0
window_after_s = 120.0
max_skew_s = 0.0
demo_tills = ["demo"]

[[cameras]]
id = "counter"
source = "demo:handover"
till_id = "front-1"

[[cameras]]
id = "lobby"
source = "demo:walk"

[[cameras]]
id = "demo-counter"
source = "demo:handover"
till_id = "demo"
"""


def _cash(journal: JournalWriter, event_id: str, started_at: float) -> None:
    journal.append(
        "event",
        {
            "event_id": event_id,
            "camera_id": journal.source,
            "event_type": "cash",
            "started_at": started_at,
        },
    )


def _round(upkeep: TillUpkeep, ingestor: Ingestor, loaded) -> None:
    upkeep._next = 0.0  # a round now, not MATCH_EVERY_S after the last
    upkeep.step(loaded, {}, lambda _: None)
    ingestor.poll()


def test_matching_round_end_to_end(tmp_path: Path) -> None:
    loaded = parse_config(CONFIG, tmp_path / "cashwatch.toml")
    now = time.time()
    counter, lobby = JournalWriter(tmp_path, "counter"), JournalWriter(tmp_path, "lobby")
    _cash(counter, "paid", now - 300.0)
    _cash(counter, "unpaid", now - 500.0)
    _cash(counter, "open", now - 10.0)
    _cash(lobby, "no-till", now - 300.0)
    inbox = tmp_path / "till" / "inbox"
    inbox.mkdir(parents=True)
    csv = inbox / "front.csv"
    csv.write_text(
        "till_id,at,amount,currency,kind,reference\n"
        f"front-1,{now - 280.0},12.5,USD,sale,R1\n"
        f"front-1,{now - 490.0},0,USD,no_sale,R2\n"
        "front-1,soon,1,USD,sale,R3\n"
    )
    old = time.time() - 5
    import os

    os.utime(csv, (old, old))  # written a while ago: not a copy still in progress
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    upkeep = TillUpkeep(tmp_path, till_journal(tmp_path))
    for _ in range(3):  # import, ingest, match, ingest
        _round(upkeep, ingestor, loaded)

    outcomes = dict(query(tmp_path, "SELECT event_id, till_match FROM events"))
    assert outcomes == {
        "paid": "matched",
        "unpaid": "unmatched",
        "open": "pending",
        "no-till": "no_till",
    }
    assert query(tmp_path, "SELECT till_reference FROM events WHERE event_id = 'paid'") == [("R1",)]
    assert query(tmp_path, "SELECT count(*) FROM transactions") == [(2,)]
    done = sorted(p.name for p in (tmp_path / "till" / "done").iterdir())
    assert len(done) == 2 and done[1].endswith("front.csv.rejected.txt")
    assert "line 4: at 'soon' is not a time" in (tmp_path / "till" / "done" / done[1]).read_text()
    assert not csv.exists(), "imported once"


def test_the_demo_till_forgets_the_first_and_every_third(tmp_path: Path) -> None:
    loaded = parse_config(CONFIG, tmp_path / "cashwatch.toml")
    now = time.time()
    demo = JournalWriter(tmp_path, "demo-counter")
    for n in range(4):
        _cash(demo, f"h{n}", now - 400.0 + 60.0 * n)
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    upkeep = TillUpkeep(tmp_path, till_journal(tmp_path))
    for _ in range(3):
        _round(upkeep, ingestor, loaded)
    outcomes = dict(query(tmp_path, "SELECT event_id, till_match FROM events"))
    assert outcomes == {"h0": "unmatched", "h1": "matched", "h2": "matched", "h3": "unmatched"}


def test_events_export_carries_the_till_outcome(tmp_path: Path, capsys) -> None:
    from cashwatch.cli import main

    config = tmp_path / "cashwatch.toml"
    config.write_text(CONFIG)
    loaded = parse_config(CONFIG, config)
    _cash(JournalWriter(tmp_path, "lobby"), "e1", time.time() - 30.0)
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    _round(TillUpkeep(tmp_path, till_journal(tmp_path)), ingestor, loaded)
    assert main(["events", "--format", "json", "--config", str(config)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["till_match"] == "no_till"


def test_the_reconciliation_view_counts_per_till_and_day(tmp_path: Path) -> None:
    loaded = parse_config(CONFIG, tmp_path / "cashwatch.toml")
    now = time.time()
    counter = JournalWriter(tmp_path, "counter")
    _cash(counter, "paid", now - 300.0)
    _cash(counter, "unpaid", now - 500.0)
    journal = till_journal(tmp_path)
    from cashwatch.till.imports import journal_transactions
    from cashwatch.till.transactions import Transaction

    journal_transactions(
        journal,
        [
            Transaction("front-1", now - 290.0, 5.0, "USD", "sale", "A"),
            Transaction("front-1", now - 100.0, 7.0, "USD", "sale", "card"),
            Transaction("front-1", now - 90.0, 0.0, "USD", "no_sale", "drawer"),
        ],
        "test",
    )
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    upkeep = TillUpkeep(tmp_path, journal)
    for _ in range(2):
        _round(upkeep, ingestor, loaded)
    rows = query(
        tmp_path,
        "SELECT till_id, sum(handovers), sum(matched), sum(unmatched), sum(sales), "
        "sum(sales_without_handover), sum(other_transactions) FROM cash_reconciliation "
        "GROUP BY till_id",
    )
    assert [tuple(int(v) if not isinstance(v, str) else v for v in r) for r in rows] == [
        ("front-1", 2, 1, 1, 2, 1, 1)
    ]


def test_transactions_posted_with_the_token_are_journaled(tmp_path: Path) -> None:
    """POST /till/transactions on the metrics port: refused without the token (and
    when none is configured), taken with it, each bad item named by position."""
    import urllib.error
    import urllib.request

    from cashwatch.config.alerts import MetricsConfig
    from cashwatch.manager.metrics import MetricsSources, serve_metrics
    from cashwatch.till.http import PATH, till_app
    from tests.support.rtsp import free_port

    token: list[str | None] = [None]
    journal = till_journal(tmp_path)
    sources = MetricsSources(cameras=dict, events=dict, ingest=lambda: None, alerts=list)  # type: ignore[arg-type]
    server = serve_metrics(
        MetricsConfig(port=free_port()), sources, {PATH: till_app(lambda: token[0], journal)}
    )
    assert server is not None
    url = f"http://127.0.0.1:{server.port}{PATH}"
    items = [
        {
            "till_id": "front-1",
            "at": "2026-12-06T10:00:00+09:00",
            "amount": 12.5,
            "currency": "usd",
            "kind": "sale",
            "reference": "P1",
        },
        {
            "till_id": "front-1",
            "at": 1796600000,
            "amount": 3,
            "currency": "USD",
            "kind": "gift",
            "reference": "P2",
        },
    ]

    def post(auth: str | None) -> tuple[int, dict]:
        request = urllib.request.Request(url, json.dumps(items).encode(), method="POST")
        if auth:
            request.add_header("Authorization", auth)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    try:
        assert post("Bearer anything")[0] == 403, "no token configured: the endpoint is off"
        token[0] = "t0ken"
        assert post(None)[0] == 401
        assert post("Bearer wrong")[0] == 401
        status, body = post("Bearer t0ken")
        assert status == 200 and body["imported"] == 1
        assert body["rejected"] == [
            {"index": 1, "reason": "kind 'gift'; valid: sale, refund, no_sale, void, payout"}
        ]
    finally:
        server.close()
        journal.close()
    Ingestor(tmp_path).poll()
    assert query(tmp_path, "SELECT reference, currency, source FROM transactions") == [
        ("P1", "USD", "http")
    ]
