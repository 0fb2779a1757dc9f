"""The package layering (pyproject.toml's `[tool.importlinter]`) holds: `lint-imports`,
as `make lint` runs it, keeps every contract."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO

CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_the_contracts_layer_the_packages_and_forbid_the_cycles() -> None:
    kinds = {contract["type"] for contract in CONTRACTS["contracts"]}
    assert CONTRACTS["root_package"] == "cashwatch"
    assert {"layers", "forbidden"} <= kinds
    layers = next(c for c in CONTRACTS["contracts"] if c["type"] == "layers")["layers"]
    assert layers[-1] == "cashwatch.core"


def test_lint_imports_keeps_every_contract() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    # this checkout's code, not the editable install's
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    counts = re.search(r"Contracts: (\d+) kept, (\d+) broken", done.stdout)
    assert counts is not None, done.stdout
    kept, broken = int(counts[1]), int(counts[2])
    assert broken == 0 and kept == len(CONTRACTS["contracts"]) >= 2
