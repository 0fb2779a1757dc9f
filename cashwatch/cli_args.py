"""Arguments every `cashwatch` command shares, said once."""

from __future__ import annotations

import argparse
from typing import Any

from cashwatch.i18n import _


def add_config_argument(parser: argparse.ArgumentParser, **options: Any) -> None:
    """`--config PATH`, with its help in the language in use."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=_("config file (default: $CASHWATCH_CONFIG, else data/cashwatch.toml)"),
        **options,
    )
