"""Remembered dashboard sign-ins, so a browser refresh does not ask for the password again.

A sign-in hands the browser a random token (a cookie); the server keeps only its SHA-256
in `sign_ins.json` (private to the owner), with the account and when it expires. A token
is honoured while it has not expired, was not signed out, its account still exists and
the account's password has not changed since (a fingerprint of the password hash is kept
with it): a stolen or left-behind cookie dies with a password change or a sign-out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from cashwatch.util.files import atomic_write_text, exclusive

log = logging.getLogger(__name__)
SIGN_INS_FILE = "sign_ins.json"


@dataclass(frozen=True)
class SignIn:
    user: str
    account: str  # fingerprint of the account's password hash when the token was issued
    issued: float
    expires: float


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SignInStore:
    """The remembered sign-ins of one data_dir.

    >>> import tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> store = SignInStore(Path(folder.name))
    >>> token = store.issue("ada", "fp1", lifetime_s=3600, now=0)
    >>> store.resolve(token, now=10)
    SignIn(user='ada', account='fp1', issued=0.0, expires=3600.0)
    >>> store.resolve(token, now=3600) is None  # expired
    True
    >>> store.resolve(token, now=1800, max_age_s=1200) is None  # the setting was lowered
    True
    >>> folder.cleanup()
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / SIGN_INS_FILE

    def issue(self, user: str, account: str, lifetime_s: float, now: float | None = None) -> str:
        """A new token for `user`, good for `lifetime_s` seconds."""
        if lifetime_s <= 0:
            raise ValueError(f"lifetime_s must be > 0 seconds, got {lifetime_s}")
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with self._exclusive():
            entries = {k: e for k, e in self._load().items() if e.expires > now}
            entries[_key(token)] = SignIn(user, account, now, now + lifetime_s)
            self._save(entries)
        return token

    def resolve(
        self, token: str, now: float | None = None, max_age_s: float | None = None
    ) -> SignIn | None:
        """The sign-in `token` stands for, or None (unknown, signed out or expired; also
        when issued more than `max_age_s` ago, for a lifetime shortened since)."""
        now = time.time() if now is None else now
        entry = self._load().get(_key(token))
        if entry is None or entry.expires <= now:
            return None
        if max_age_s is not None and now - entry.issued >= max_age_s:
            return None
        return entry

    def revoke(self, token: str) -> None:
        """Sign out: the token is honoured no more, on any browser holding it."""
        if not self.path.exists():
            return
        with self._exclusive():
            entries = self._load()
            if entries.pop(_key(token), None) is not None:
                self._save(entries)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One read-change-write at a time, across the dashboard's sessions (threads)
        and processes (two dashboards on one data folder): else a sign-in issued while
        another is revoked could write the revoked token back."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, b'{"version": 1, "sign_ins": {}}\n')
                os.close(fd)
        with exclusive(self.path):
            yield

    def _load(self) -> dict[str, SignIn]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                key: SignIn(
                    str(e["user"]), str(e["account"]), float(e["issued"]), float(e["expires"])
                )
                for key, e in raw["sign_ins"].items()
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # Nobody is locked out by this: everyone can still sign in with a password,
            # and the next sign-in writes a good file.
            log.warning("%s is unreadable (%s); remembered sign-ins are forgotten", self.path, exc)
            return {}

    def _save(self, entries: dict[str, SignIn]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": 1, "sign_ins": {k: asdict(e) for k, e in sorted(entries.items())}}
        atomic_write_text(self.path, json.dumps(body, indent=1) + "\n", private=True)
