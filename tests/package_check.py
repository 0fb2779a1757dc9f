"""`pip install .` alone, in a new virtualenv, gives a working CashWatch.

Run by hand or before a release (`make package-check`, ~5 min and ~7 GB of disk, so not
in every test run; tests/test_packaging.py checks the declarations that this relies on
on every run): a virtualenv without the requirements files, `cashwatch check` on the demo
config, then a manager on one demo camera until that camera has processed frames and
raised an event.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAMERA = '[[cameras]]\nid = "scuffle"\nsource = "demo:scuffle"\n'


def _run(*command: str | Path, timeout_s: float = 1800) -> str:
    print("$", " ".join(map(str, command)), flush=True)
    return subprocess.run(
        list(map(str, command)), check=True, capture_output=True, text=True, timeout=timeout_s
    ).stdout


def _manager_raises_an_event(cashwatch: Path, config: Path, deadline_s: float = 300) -> None:
    manager = subprocess.Popen(
        [str(cashwatch), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            events = subprocess.run(
                [str(cashwatch), "events", "--config", str(config), "--format", "json"],
                capture_output=True,
                text=True,
            )
            if events.returncode == 0 and json.loads(events.stdout or "[]"):
                print("an event was stored: the installed package works", flush=True)
                return
            time.sleep(2)  # a poll interval, not a wait for a condition
        raise SystemExit(f"no event within {deadline_s:.0f} s")
    finally:
        manager.terminate()
        manager.wait(timeout=60)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cashwatch-package-") as folder:
        work = Path(folder)
        _run(sys.executable, "-m", "venv", work / "venv")
        _run(work / "venv" / "bin" / "pip", "install", "-q", REPO)
        cashwatch = work / "venv" / "bin" / "cashwatch"
        config = work / "data" / "cashwatch.toml"
        config.parent.mkdir()
        config.write_text(CAMERA)
        print(_run(cashwatch, "check", "--config", config), flush=True)
        _manager_raises_an_event(cashwatch, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
