"""The examples in the package's docstrings run, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import numpy as np
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cashwatch"
# numpy's own defaults: a library imported by other tests (ultralytics) changes them
NUMPY_PRINT_DEFAULTS = dict(
    precision=8,
    threshold=1000,
    edgeitems=3,
    linewidth=75,
    suppress=False,
    nanstr="nan",
    infstr="inf",
    formatter=None,
    sign="-",
    floatmode="maxprec",
    legacy=False,
)
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8")
)


def test_the_examples_are_found() -> None:
    assert "cashwatch.core.spans" in MODULES and len(MODULES) > 30


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    with np.printoptions(**NUMPY_PRINT_DEFAULTS):  # type: ignore[arg-type]
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
