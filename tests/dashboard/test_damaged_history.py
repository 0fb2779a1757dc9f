"""A damaged `cashwatch.duckdb` on the dashboard: a clear word on every history page, no
traceback; damage found only when a query reads the block says the same."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from cashwatch.dashboard import data
from cashwatch.store.db import open_writable
from tests.dashboard.conftest import Dashboard
from tests.store.builders import bulk_database, damage_a_block_until, damage_database

DAMAGED = "the event database is damaged"


@pytest.mark.parametrize("page", ["pages/events.py", "pages/system.py", "pages/sql.py"])
def test_history_pages_say_the_database_is_damaged(offline_dash: Dashboard, page: str) -> None:
    damage_database(offline_dash.data_dir)
    at = offline_dash.page(page)
    if page == "pages/sql.py":
        at.text_area[0].input("SELECT count(*) FROM events")
        at.button[0].click().run()
    assert not at.exception, at.exception
    shown = " ".join(m.value for m in [*at.info, *at.warning, *at.error])
    assert DAMAGED in shown and "cashwatch db recover" in shown, shown


def _opens_but_a_read_fails(path: Path) -> bool:
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("SELECT sum(length(details)) FROM events").fetchall()
    except duckdb.Error:
        try:
            duckdb.connect(str(path), read_only=True).close()
        except duckdb.Error:
            return False  # opening notices it: not the damage this test is about
        return True
    return False


def test_damage_a_query_meets_is_reported_as_damage(tmp_path: Path) -> None:
    open_writable(tmp_path).close()
    bulk_database(tmp_path, 20_000)
    damage_a_block_until(tmp_path, _opens_but_a_read_fails, "only a read notices")
    everything = data.EventFilter(
        start=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        end=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
        limit=100_000,
    )
    with pytest.raises(data.HistoryUnavailable, match=DAMAGED):
        data.list_events(tmp_path, everything)
