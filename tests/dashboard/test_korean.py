"""Every page in Korean: with `[dashboard] language = "ko"` no English UI text is left
(camera names, ids and other user data excepted), and an account's own choice wins over
the dashboard's default and follows the account.

The texts are read from what AppTest's elements carry (labels, help, options, bodies,
table headings, chart titles), not from the source, so a message nobody marked shows up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from cashwatch.auth import UserStore
from cashwatch.dashboard import language
from tests.dashboard import builders
from tests.dashboard.conftest import ADMIN, Dashboard

PAGES = ["pages/live.py", "pages/events.py", "pages/cameras.py", "pages/system.py", "pages/sql.py"]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
WORD = re.compile(r"[A-Za-z]{3,}")
# Names that stay as they are in any language: products, formats, units, protocols.
KEPT = {
    "CashWatch", "DuckDB", "SQL", "RTSP", "HTTP", "HTTPS", "JPEG", "PNG", "MP4", "MQTT",
    "CPU", "GPU", "FPS", "fps", "RAM", "MiB", "GiB", "KiB", "URL", "JSON", "CSV", "SMTP",
    "OpenVINO", "ONNX", "Runtime", "Streamlit", "YOLO", "Parquet", "PID", "pid", "RSS",
    "UTC", "API", "TOML", "USB", "IDs", "webhook", "Webhook", "PyAV", "ffmpeg", "H264",
    "English",  # the language picker names each language in its own words
}  # fmt: skip
# The test's own data: camera names and ids, sites, accounts, event ids, sources, SQL.
DATA = re.compile(
    r"Front desk|Back office|cam-[ab]|lobby|office|ada\b|[\w.-]+-evt-\d+|evt[\w-]*"
    r"|\b[0-9a-f]{20,}\b|rtsp://\S+|https?://\S+|(?:/[\w.\\-]+)+"
    r"|`[^`]*`|:material/\w+:|:[\w-]+\[|\[[^\]]*\]\([^)]*\)"
    # what the test's worker published as its error: a message of the camera process
    # (logged and shown as it is, like every process's error; docs/languages.md)
    r"|cannot open rtsp://\S+: timeout"
)
# A widget's value is what the user entered or chose (the choices are read from its
# options, as shown): data, not UI text.
VALUE_IS_DATA = {
    "selectbox", "radio", "multiselect", "select_slider", "text_input", "text_area",
    "number_input", "date_input", "time_input", "checkbox", "toggle", "slider",
}  # fmt: skip


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _chart_titles(spec: Any) -> Iterator[str]:
    """Titles in a Vega-Lite spec (chart, axes, legends), wherever they are nested."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "title":
                yield from _strings(value if not isinstance(value, dict) else value.get("text"))
            else:
                yield from _chart_titles(value)
    elif isinstance(spec, list):
        for item in spec:
            yield from _chart_titles(item)


def _texts(at: AppTest) -> Iterator[str]:
    """Every text a person reads on the page as AppTest renders it."""
    for node in _walk(at._tree):
        kind = getattr(node, "type", "")
        if kind in {"code", "json"}:  # SQL and data
            continue
        for attr in ("label", "help", "placeholder", "body", "value", "options", "caption"):
            try:
                value = getattr(node, attr, None)
            except Exception:  # a property AppTest cannot compute for this element
                continue
            if kind == "dataframe" and attr == "value":
                if value is not None:
                    yield from (c for c in value.columns if isinstance(c, str))
                continue
            if attr == "value" and (kind == "metric" or kind in VALUE_IS_DATA):
                continue  # a number, or what the user entered or chose
            yield from _strings(value)
        proto = getattr(node, "proto", None)
        spec = getattr(proto, "spec", "") if proto is not None else ""
        if isinstance(spec, str) and spec.startswith("{"):
            yield from _chart_titles(json.loads(spec))


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def _english_left(texts: Iterator[str]) -> list[str]:
    left = []
    for text in texts:
        bare = DATA.sub(" ", text)
        words = [w for w in WORD.findall(bare) if w not in KEPT]
        if words:
            left.append(f"{text!r} ({', '.join(words)})")
    return sorted(set(left))


def _korean(dash: Dashboard) -> Dashboard:
    builders.write_config(dash.config_path, language="ko")
    return dash


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_speaks_korean(dash: Dashboard, page: str | None) -> None:
    board = _korean(dash)
    at = board.app().run() if page is None else board.page(page)
    assert not at.exception, at.exception
    texts = list(_texts(at))
    assert any(HANGUL.search(t) for t in texts), texts
    left = _english_left(iter(texts))
    assert not left, f"{page or 'overview'}: English left on the page:\n" + "\n".join(left)


def test_an_accounts_own_language_wins_and_follows_the_account(dash: Dashboard) -> None:
    at = dash.app().run()  # the dashboard's default: English
    assert at.title[0].value == "Overview"
    at.sidebar.selectbox(key=language.picker_key("en")).set_value("ko").run()
    assert not at.exception, at.exception
    assert HANGUL.search(at.title[0].value), at.title[0].value
    assert UserStore(dash.data_dir).users()[0].language == "ko"
    # a new session of the same account (another browser) speaks it from the start
    again = dash.app().run()
    assert HANGUL.search(again.title[0].value), again.title[0].value
    # a password change keeps it
    store = UserStore(dash.data_dir)
    store.add(ADMIN, "another password", "admin", replace=True)
    assert store.users()[0].language == "ko"
