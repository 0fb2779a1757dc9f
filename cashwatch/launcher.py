"""`cashwatch demo` and `cashwatch dashboard`: start Streamlit where the config says.

`streamlit run app.py` alone knows nothing of `cashwatch.toml`, so it would listen on
`.streamlit/config.toml`'s loopback address and default port whatever `[dashboard]`
says; these commands pass the config's `host` and `port` on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

from cashwatch.config import LoadedConfig, load_config, resolve_config_path
from cashwatch.config.defaults import write_demo_config
from cashwatch.i18n import _, language

APP = Path(__file__).resolve().parents[1] / "app.py"


class DashboardMissing(Exception):
    """app.py and pages/ are not beside the package (a wheel install): say so, plainly."""


def _require_app(app: Path = APP) -> None:
    if not app.is_file():
        raise DashboardMissing(
            _(
                "the dashboard is not installed here: {app} does not exist. The dashboard "
                "(app.py, pages/, .streamlit/) runs from a checkout of the repository: clone "
                "it and run `make install` (an editable install), then this command again"
            ).format(app=app)
        )


# Settings that matter for safety, not looks: passed on the command line too, because
# Streamlit reads .streamlit/config.toml only from the folder it is started in.
SAFETY_OPTIONS = [
    "--client.showErrorDetails",
    "none",  # no tracebacks in the browser
    "--browser.gatherUsageStats",
    "false",
]


def dashboard_command(loaded: LoadedConfig, port: int) -> list[str]:
    """The Streamlit command line for this config, on `port`."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        loaded.app.dashboard.host,
        "--server.headless",
        "true",
        *SAFETY_OPTIONS,
    ]


def _environment(loaded: LoadedConfig) -> dict[str, str]:
    return dict(os.environ, CASHWATCH_CONFIG=str(loaded.path), PYTHONUNBUFFERED="1")


def run_dashboard(config: str | None, port: int | None = None) -> NoReturn:
    """Become the dashboard: exec Streamlit in this process, so that a service manager's
    signals and the exit status are Streamlit's own, with no child left behind."""
    _require_app()
    loaded = load_config(config, create=False)
    port = port or loaded.app.dashboard.port
    print(
        _("CashWatch dashboard on http://{host}:{port} (config {path})").format(
            host=loaded.app.dashboard.host, port=port, path=loaded.path
        ),
        flush=True,
    )
    command = dashboard_command(loaded, port)
    # Streamlit reads .streamlit/config.toml (theme, toolbar, file watching) from the
    # working folder; a service may start in any folder
    os.chdir(APP.parent)
    os.execve(command[0], command, _environment(loaded))


def run_demo(config: str | None, port: int | None = None) -> int:
    _require_app()
    path = resolve_config_path(config)
    if not path.exists():
        write_demo_config(path)  # the demo cameras, wherever the config is to live
    loaded = load_config(path)
    env = _environment(loaded)
    manager = subprocess.Popen(
        # the manager speaks the demo's language (its messages, and --lang's choice)
        [
            sys.executable,
            *("-m", "cashwatch.cli", "--lang", language()),
            *("run", "--config", str(loaded.path)),
        ],
        env=env,
    )
    port = port or loaded.app.dashboard.port
    dashboard = subprocess.Popen(dashboard_command(loaded, port), env=env, cwd=APP.parent)
    banner = _(
        "CashWatch demo: dashboard on http://{host}:{port}  (config {path})\n"
        "The demo cameras are synthetic (see docs/demo.md). Ctrl-C stops everything."
    ).format(host=loaded.app.dashboard.host, port=port, path=loaded.path)
    print(f"\n{banner}\n", flush=True)
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
    return _demo_status(stopping, manager.returncode, dashboard.returncode)


def _demo_status(stopped_by_user: bool, manager: int | None, dashboard: int | None) -> int:
    """Non-zero when either half failed on its own (a port already taken, a crash);
    a Ctrl-C is a normal end even though the children then exit by signal."""
    if stopped_by_user:
        return max(0, manager or 0)
    return next((code for code in (manager, dashboard) if code), 1)
