"""`cashwatch demo`: the manager and the dashboard together, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cashwatch.config import load_config, resolve_config_path
from cashwatch.config.defaults import write_demo_config

APP = Path(__file__).resolve().parents[1] / "app.py"


def _dashboard_command(port: int, host: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", host, "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]


def run_demo(config: str | None, port: int = 8501) -> int:
    path = resolve_config_path(config)
    if not path.exists():
        write_demo_config(path)  # the demo cameras, wherever the config is to live
    loaded = load_config(path)
    env = dict(os.environ, CASHWATCH_CONFIG=str(loaded.path), PYTHONUNBUFFERED="1")
    manager = subprocess.Popen([sys.executable, "-m", "cashwatch.cli", "run", "--config",
                                str(loaded.path)], env=env)
    host = loaded.app.dashboard.host
    dashboard = subprocess.Popen(_dashboard_command(port, host), env=env)
    print(f"\nCashWatch demo: dashboard on http://{host}:{port}  (config {loaded.path})\n"
          "The demo cameras are synthetic (see docs/demo.md). Ctrl-C stops everything.\n",
          flush=True)
    children = [manager, dashboard]
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.5)  # waiting on two child processes; nothing to poll but their exit
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    return max(0, manager.returncode or 0)
