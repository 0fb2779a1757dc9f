"""The SQL page's private copy of the history is owner-only, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.dashboard import builders


def test_the_copy_and_its_folder_are_owner_only(tmp_path: Path) -> None:
    from cashwatch.dashboard import data
    builders.create_history(tmp_path)
    (tmp_path / data.COPY_FOLDER).mkdir(mode=0o755)
    os.chmod(tmp_path / data.COPY_FOLDER, 0o755)  # left by an older version
    old = os.umask(0o022)
    try:
        copy = data.database_copy(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / data.COPY_FOLDER).stat().st_mode) == 0o700
    assert stat.S_IMODE(copy.path.stat().st_mode) == 0o600
