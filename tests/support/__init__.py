"""Test support: real helper processes (an RTSP camera server) and the fixtures that drive them.

Fixtures are in the pytest plugin ``tests.support.rtsp``; enable it for the whole suite with
``pytest_plugins = ["tests.support.rtsp"]`` in ``tests/conftest.py``.
"""
