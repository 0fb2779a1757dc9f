"""`cashwatch events`: list stored events as a table, CSV, JSON or Parquet.

Reads the database read-only for a moment, so it works while the manager runs.

    cashwatch events --since 2h --camera lobby --type cash
    cashwatch events --since 2025-01-31 --format parquet --output events.parquet
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import duckdb

from cashwatch.cli_args import add_config_argument
from cashwatch.config.loader import ConfigError, load_config
from cashwatch.core.events import EVENT_TYPES
from cashwatch.i18n import N_, _
from cashwatch.store.db import DatabaseBusyError, DatabaseMissingError, connect_readonly, db_path

FORMATS = ("table", "csv", "json", "parquet")
COLUMNS = (
    "started_at",
    "camera_id",
    "event_type",
    "confidence",
    "review_status",
    "clip_path",
    "clip_error",
    "snapshot_path",
    "site",
    "ended_at",
    "model",
    "notes",
    "reviewed_at",
    "reviewed_by",
    "evidence_expired_at",
    "bbox",
    "details",
    "till_id",
    "till_match",
    "till_reference",
    "event_id",
)
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The table's headings and its clip column's words, translated where it is written
TABLE_HEADINGS = (
    N_("started"),
    N_("camera"),
    N_("type"),
    N_("conf"),
    N_("review"),
    N_("clip"),
    N_("event_id"),
)
CLIP_STATES = {"yes": N_("yes"), "failed": N_("failed"), "expired": N_("expired"), "-": "-"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2h`, `30m`, `7d`, `1w` before now, or an ISO date/time (local time unless it says).

    >>> parse_since("2h", now=datetime(2025, 1, 31, 12, 0).astimezone()).hour
    10
    """
    match = _RELATIVE.match(text)
    if match:
        now = now or datetime.now().astimezone()
        return now - timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            _(
                "--since {text} is neither a relative time (30m, 2h, 7d, 1w) nor an ISO "
                "date/time (2025-01-31, 2025-01-31T08:00, 2025-01-31T08:00+01:00)"
            ).format(text=repr(text))
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=parse_since,
        metavar="WHEN",
        help=_("only events from then on: 30m, 2h, 7d, or an ISO date/time"),
    )
    parser.add_argument(
        "--camera", action="append", metavar="ID", help=_("only this camera (repeat for several)")
    )
    parser.add_argument(
        "--type",
        choices=EVENT_TYPES,
        action="append",
        dest="event_type",
        help=_("only this event type (repeat for several)"),
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help=_("output format (default: table)")
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help=_("write to this file instead of the screen (required for parquet)"),
    )
    add_config_argument(parser)


def build_query(args: argparse.Namespace) -> tuple[str, list[Any]]:
    where, params = [], []
    if args.since is not None:
        where.append("started_at >= ?")
        params.append(args.since)
    if args.camera:
        where.append(f"camera_id IN ({', '.join('?' for _ in args.camera)})")
        params += args.camera
    if args.event_type:
        where.append(f"event_type IN ({', '.join('?' for _ in args.event_type)})")
        params += args.event_type
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return (
        f"SELECT {', '.join(COLUMNS)} FROM events {clause} "
        "ORDER BY started_at DESC NULLS LAST, event_id",
        params,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone().isoformat(timespec="seconds")
    return value


def _rows_as_dicts(rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item = {name: _plain(value) for name, value in zip(COLUMNS, row, strict=True)}
        if isinstance(item["details"], str):
            item["details"] = json.loads(item["details"])
        out.append(item)
    return out


def _clip_state(item: dict[str, Any]) -> str:
    if item["clip_path"]:
        return "yes"
    if item["clip_error"]:
        return "failed"
    # deleted by retention; the event itself is kept
    return "expired" if item["evidence_expired_at"] else "-"


def write_table(items: list[dict[str, Any]], out: IO[str]) -> None:
    """The events for a person: headings and the clip column in the language in use,
    columns lined up by terminal width (a Hangul heading is two columns a letter)."""
    from cashwatch.status import pad, text_width

    header = tuple(_(heading) for heading in TABLE_HEADINGS)
    lines = [header] + [
        (
            str(item["started_at"] or "")[:19].replace("T", " "),
            str(item["camera_id"] or ""),
            str(item["event_type"] or ""),
            "" if item["confidence"] is None else f"{item['confidence']:.2f}",
            str(item["review_status"] or ""),
            _(CLIP_STATES[_clip_state(item)]),
            item["event_id"],
        )
        for item in items
    ]
    widths = [max(text_width(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        out.write(
            "  ".join(pad(cell, width) for cell, width in zip(line, widths, strict=True)).rstrip()
            + "\n"
        )
    out.write(_("{count} event(s)").format(count=len(items)) + "\n")


def write_csv(items: list[dict[str, Any]], out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for item in items:
        writer.writerow(
            {**item, "details": json.dumps(item["details"]), "bbox": json.dumps(item["bbox"])}
        )


def write_json(items: list[dict[str, Any]], out: IO[str]) -> None:
    json.dump(items, out, indent=2)
    out.write("\n")


_WRITERS = {"table": write_table, "csv": write_csv, "json": write_json}


def _fetch(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """The rows to print, or None once a Parquet file is written (DuckDB writes it)."""
    query, params = build_query(args)
    if args.format == "parquet":
        con.sql(query, params=params).write_parquet(str(args.output))
        return None
    return _rows_as_dicts(con.execute(query, params).fetchall())


def _write(items: list[dict[str, Any]], args: argparse.Namespace) -> None:
    target = (
        args.output.open("w", encoding="utf-8", newline="")
        if args.output
        else nullcontext(sys.stdout)
    )
    with target as out:
        _WRITERS[args.format](items, out)


def run(args: argparse.Namespace) -> int:
    """Print or export events; 0 on success, 1 when there is nothing to read, 2 for bad usage."""
    if args.format == "parquet" and args.output is None:
        print(_("error: --format parquet needs --output PATH (Parquet is binary)"), file=sys.stderr)
        return 2
    try:
        loaded = load_config(args.config, create=False)
    except ConfigError as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 1
    try:
        with connect_readonly(loaded.data_dir) as con:
            items = _fetch(con, args)
        # written after the connection is closed: a pager (`| less`) can take minutes,
        # and the manager cannot store events while any reader holds the file
        if items is not None:
            _write(items, args)
        return 0
    except DatabaseMissingError:
        print(
            _(
                "error: no event database at {path} yet: the manager creates it "
                "(start it with `cashwatch run`)"
            ).format(path=db_path(loaded.data_dir)),
            file=sys.stderr,
        )
        return 1
    except DatabaseBusyError as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader stopped reading (`cashwatch events | head`): that is not an error;
        # point stdout at /dev/null so Python's flush at exit does not complain either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(
            _("error: cannot write {path}: {reason}").format(
                path=args.output, reason=exc.strerror or exc
            ),
            file=sys.stderr,
        )
        return 1
