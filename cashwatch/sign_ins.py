"""Remembered dashboard sign-ins, so a browser refresh does not ask for the password again.

A sign-in hands the browser a random token (a cookie); the server keeps only its SHA-256
in `sign_ins.json` (private to the owner), with the account and when it expires. A token
is honoured while it has not expired, was not signed out, its account still exists and
the account's password has not changed since (a fingerprint of the password hash is kept
with it): a stolen or left-behind cookie dies with a password change or a sign-out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cashwatch.util.files import atomic_write_text

log = logging.getLogger(__name__)
SIGN_INS_FILE = "sign_ins.json"
# Streamlit runs every browser session on a thread of one process: one writer at a time.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class SignIn:
    user: str
    account: str  # fingerprint of the account's password hash when the token was issued
    expires: float


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SignInStore:
    """The remembered sign-ins of one data_dir.

    >>> import tempfile
    >>> store = SignInStore(Path(tempfile.mkdtemp()))
    >>> token = store.issue("ada", "fp1", lifetime_s=3600, now=0)
    >>> store.resolve(token, now=10)
    SignIn(user='ada', account='fp1', expires=3600.0)
    >>> store.resolve(token, now=3600) is None  # expired
    True
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / SIGN_INS_FILE

    def issue(self, user: str, account: str, lifetime_s: float,
              now: float | None = None) -> str:
        """A new token for `user`, good for `lifetime_s` seconds."""
        if lifetime_s <= 0:
            raise ValueError(f"lifetime_s must be > 0 seconds, got {lifetime_s}")
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with _LOCK:
            entries = {k: e for k, e in self._load().items() if e.expires > now}
            entries[_key(token)] = SignIn(user, account, now + lifetime_s)
            self._save(entries)
        return token

    def resolve(self, token: str, now: float | None = None) -> SignIn | None:
        """The sign-in `token` stands for, or None (unknown, signed out or expired)."""
        now = time.time() if now is None else now
        entry = self._load().get(_key(token))
        return entry if entry is not None and entry.expires > now else None

    def revoke(self, token: str) -> None:
        """Sign out: the token is honoured no more, on any browser holding it."""
        with _LOCK:
            entries = self._load()
            if entries.pop(_key(token), None) is not None:
                self._save(entries)

    def _load(self) -> dict[str, SignIn]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {key: SignIn(str(e["user"]), str(e["account"]), float(e["expires"]))
                    for key, e in raw["sign_ins"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # Nobody is locked out by this: everyone can still sign in with a password,
            # and the next sign-in writes a good file.
            log.warning("%s is unreadable (%s); remembered sign-ins are forgotten",
                        self.path, exc)
            return {}

    def _save(self, entries: dict[str, SignIn]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": 1, "sign_ins": {k: asdict(e) for k, e in sorted(entries.items())}}
        atomic_write_text(self.path, json.dumps(body, indent=1) + "\n", private=True)
