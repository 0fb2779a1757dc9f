"""`cashwatch till import FILE.csv`: a till's transactions into the journal by hand.

The lines go through the `_till` journal like the inbox's (the running manager ingests
them; one that starts later catches up), each bad line named with its number and why.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cashwatch.cli_args import add_config_argument
from cashwatch.config import ConfigError, load_config
from cashwatch.i18n import _
from cashwatch.till.imports import import_csv, till_journal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="till_command", required=True)
    imported = sub.add_parser(
        "import", help=_("import a CSV file: till_id,at,amount,currency,kind,reference")
    )
    imported.add_argument("file", type=Path, help=_("the CSV file, with a header line"))
    add_config_argument(imported)


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load_config(args.config, create=False)
    except ConfigError as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 2
    journal = till_journal(loaded.data_dir)
    try:
        report = import_csv(args.file, journal)
    except (OSError, UnicodeError) as exc:
        message = _("cannot read {path}: {reason}").format(path=args.file, reason=exc)
        print(f"cashwatch: {message}", file=sys.stderr)
        return 2
    finally:
        journal.close()
    print(report.summary())
    for line in report.lines():
        print(f"  {line}", file=sys.stderr)
    return 1 if report.rejected else 0
