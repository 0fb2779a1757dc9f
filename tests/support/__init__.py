"""Test support: real helper processes (an RTSP camera server; a Mosquitto broker, an SMTP
server and a webhook receiver for alerts) and the fixtures that drive them.

Fixtures are in the pytest plugin ``tests.support.rtsp``; enable it for the whole suite with
``pytest_plugins = ["tests.support.rtsp"]`` in ``tests/conftest.py``. The alert receivers
are in ``tests.support.alert_receivers``.
"""

from __future__ import annotations

import os

import pytest


def skip_unless_required(reason: str | None, env: str) -> None:
    """Nothing when `reason` is None (the helper can run); else skip the test, or fail it
    when `env` is "1" (CI, where a missing helper is the setup's fault, not the test's)."""
    if reason is None:
        return
    if os.environ.get(env) == "1":
        pytest.fail(reason)
    pytest.skip(reason)
