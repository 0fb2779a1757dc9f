"""Makes the RTSP fixtures visible to the tests in this folder.

Importing them here (rather than ``pytest_plugins``, which pytest allows only in the top-level
conftest) keeps this folder working whether or not ``tests/conftest.py`` loads the plugin.
"""

from tests.support.rtsp import rtsp_clip, rtsp_server

__all__ = ["rtsp_clip", "rtsp_server"]
