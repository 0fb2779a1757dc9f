"""Rewrites the config and the user file under a file-size limit:
`python -m tests.faults.atomic_child CONFIG DATA_DIR`.

RLIMIT_FSIZE makes the rewrite fail part-way (SIGXFSZ ignored, so the write returns
EFBIG), as a crash or a full disk would. Prints one JSON line of what each call raised.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path

from cashwatch.auth import UserStore
from cashwatch.config.edit import set_camera_enabled


def main(config: Path, data_dir: Path) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    users = UserStore(data_dir)
    _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))  # less than either file
    outcome = {}
    for name, call in (
        ("config", lambda: set_camera_enabled(config, "cam", False)),
        ("users", lambda: users.add("bob", "a long passphrase 42", "analyst")),
    ):
        try:
            call()
            outcome[name] = "written"
        except OSError as exc:
            outcome[name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
