"""Crash-safe file writes."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`.

    A crash at any point leaves either the old or the new file, never half of one. The
    new file keeps the old one's permissions and, where allowed, its owner: a config
    shared by services running as different users must stay readable to them after
    `sudo cashwatch stop CAM` rewrites it. A new file, or any `private` one (password
    hashes), gets mkstemp's 0600.
    """
    # through a symlink to the file it names: replacing the link would leave the target
    # stale and turn the link into a copy
    path = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if not private:
                _keep_mode_and_owner(path, handle.fileno())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _keep_mode_and_owner(path: Path, fd: int) -> None:
    try:
        old = path.stat()
    except FileNotFoundError:
        return
    os.fchmod(fd, old.st_mode & 0o7777)
    if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except PermissionError:
            # only root may give a file away; a member of the file's group may still
            # keep the group, which is what lets the other services read it
            with contextlib.suppress(PermissionError):
                os.fchown(fd, -1, old.st_gid)


def atomic_write_text(path: Path, text: str, *, private: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), private=private)


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """One writer of a file at a time (dashboard sessions, the CLI, other processes):
    without it two read-change-write rounds that overlap keep only the later change.

    The lock is on the file itself (which must exist), so nothing is added beside it. A
    write replaces the file (a new inode), so a writer that waited on the old one looks
    again.
    """
    while True:
        with open(path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                    yield
                    return
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# Clips, snapshots and the event history show people: nothing CashWatch writes in its data
# folder is for other accounts on the machine. The manager sets this umask before it
# creates anything, and its camera workers inherit it.
PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700


def make_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) owner-only; tighten it if it already exists.

    Only for folders CashWatch owns (journal/, logs/, clips/ …): the admin's own folders,
    such as the data folder itself, are left as they are (see `readable_by_others`).
    """
    path = Path(path)
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def readable_by_others(path: Path) -> bool:
    """Whether accounts other than the owner may list or read `path` (group or other)."""
    try:
        return bool(Path(path).stat().st_mode & 0o044)
    except FileNotFoundError:
        return False


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (its `__init__`
    may import what the caller must not load, e.g. jax or torch).

    Args:
        package: The package's import name.

    Returns:
        Its folder, or None when it is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
