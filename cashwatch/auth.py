"""Dashboard accounts: roles, site limits and argon2 password hashes in `users.json`.

Roles nest by what they may do, not by rank: an analyst may run SQL but not review
events, an operator may review but not run SQL; an admin may do everything. The
dashboard checks a permission in every action handler, not only when it draws a
button, so a forged widget event cannot do more than the account may.

CLI (wired into `cashwatch` by `add_arguments`/`run`):

    cashwatch users add NAME --role admin [--site S ...] [--password-stdin]
    cashwatch users list
    cashwatch users remove NAME
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import hashlib
import ipaddress
import json
import logging
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cashwatch.cli_args import add_config_argument
from cashwatch.i18n import LANGUAGES, _, check_language
from cashwatch.util.files import atomic_write_text, exclusive

log = logging.getLogger(__name__)
Role = Literal["admin", "operator", "analyst"]
ROLES: tuple[Role, ...] = ("admin", "operator", "analyst")
Permission = Literal[
    "view_overview",
    "view_live",
    "view_events",
    "review_events",
    "view_system",
    "run_sql",
    "export",
    "control_cameras",
    "edit_cameras",
    "manage_users",
]
PERMISSIONS: dict[Role, frozenset[str]] = {
    "admin": frozenset(Permission.__args__),  # type: ignore[attr-defined]
    "operator": frozenset(
        {"view_overview", "view_live", "view_events", "review_events", "view_system"}
    ),
    "analyst": frozenset({"view_overview", "view_events", "run_sql", "export"}),
}
USERS_FILE = "users.json"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
MIN_PASSWORD_LENGTH = 8
_HASHER = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not-a-real-password")


class AuthError(Exception):
    """A bad account operation; the message names the bad value and what is valid."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    sites: tuple[str, ...] = ()  # empty: every site
    language: str | None = None  # the account's own choice; None: the dashboard's default

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]

    def sees_site(self, site: str) -> bool:
        return not self.sites or site in self.sites

    @property
    def limited_to_sites(self) -> bool:
        return bool(self.sites)


# Used when login is not required (dashboard on localhost only).
LOCAL_ADMIN = User(name="local", role="admin")


@dataclass
class _Account:
    role: Role
    password_hash: str
    sites: list[str] = field(default_factory=list)
    created_at: float = 0.0
    language: str | None = None


def _stored_language(value: object) -> str | None:
    """An account's saved language; one this version has no catalogue for (a file from
    a newer version, a hand edit) falls back to the default instead of locking it out."""
    return value if isinstance(value, str) and value in LANGUAGES else None


def _user(name: str, account: _Account) -> User:
    return User(name, account.role, tuple(account.sites), account.language)


def users_path(data_dir: Path) -> Path:
    return Path(data_dir) / USERS_FILE


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; valid: {', '.join(ROLES)}")
    return role


class UserStore:
    """The accounts of one data_dir. Every change rewrites the file atomically, under
    the file's lock (`exclusive`, as `SignInStore` takes on its file): the dashboard and
    `cashwatch users` can edit accounts at the same moment, and without it the later of
    two overlapping read-change-writes drops the other's account."""

    def __init__(self, data_dir: Path) -> None:
        self.path = users_path(data_dir)

    def _load(self) -> dict[str, _Account]:
        if not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                name: _Account(
                    role=_check_role(entry["role"]),
                    password_hash=entry["password_hash"],
                    sites=list(entry.get("sites", [])),
                    created_at=float(entry.get("created_at", 0.0)),
                    language=_stored_language(entry.get("language")),
                )
                for name, entry in raw["users"].items()
            }
        except (ValueError, KeyError, TypeError, AuthError) as exc:
            raise AuthError(f"{self.path} is not a valid users file: {exc}") from exc

    def _save(self, accounts: dict[str, _Account]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        users = {name: asdict(acc) for name, acc in sorted(accounts.items())}
        body = {"version": 1, "users": users}
        atomic_write_text(self.path, json.dumps(body, indent=2) + "\n", private=True)

    def users(self) -> list[User]:
        accounts = sorted(self._load().items())
        return [_user(name, acc) for name, acc in accounts]

    def add(
        self,
        name: str,
        password: str,
        role: str,
        sites: list[str] | None = None,
        *,
        replace: bool = False,
    ) -> User:
        if not re.fullmatch(USERNAME_PATTERN, name):
            raise AuthError(
                f"invalid user name {name!r}: letters, digits and _.@- "
                "(at most 64, starting with a letter or digit)"
            )
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AuthError(
                f"password too short ({len(password)} characters); at least {MIN_PASSWORD_LENGTH}"
            )
        # hashed before the lock: argon2 takes ~100 ms that other writers need not wait
        account = _Account(
            role=_check_role(role),
            password_hash=_HASHER.hash(password),
            sites=sorted(set(sites or [])),
            created_at=time.time(),
        )
        with self._exclusive():
            accounts = self._load()
            if name in accounts and not replace:
                raise AuthError(f"user {name!r} already exists (remove it first)")
            if name in accounts:  # a new password or role keeps the account's own language
                account.language = accounts[name].language
            accounts[name] = account
            self._save(accounts)
        return _user(name, account)

    def set_language(self, name: str, code: str | None) -> None:
        """The account's own dashboard language (None: the dashboard's default)."""
        if code is not None:
            check_language(code)
        with self._exclusive():
            accounts = self._load()
            if name not in accounts:
                raise AuthError(f"no user {name!r}; users: {', '.join(sorted(accounts)) or 'none'}")
            accounts[name].language = code
            self._save(accounts)

    def remove(self, name: str) -> None:
        if not self.path.exists():  # nothing to lock, nor to remove
            raise AuthError(f"no user {name!r}; users: none")
        with self._exclusive():
            accounts = self._load()
            if name not in accounts:
                raise AuthError(f"no user {name!r}; users: {', '.join(sorted(accounts)) or 'none'}")
            del accounts[name]
            self._save(accounts)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One account edit at a time across threads and processes. The lock lives on
        the file itself, so a first edit creates it (empty, owner-only) to lock it."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another writer made it first
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, b'{"version": 1, "users": {}}\n')
                finally:
                    os.close(fd)
        with exclusive(self.path):
            yield

    def fingerprint(self, name: str) -> str | None:
        """A digest of the account's password hash (None: no such account); it changes
        with the password, which ends the account's remembered sign-ins."""
        account = self._load().get(name)
        if account is None:
            return None
        return hashlib.sha256(account.password_hash.encode("utf-8")).hexdigest()[:32]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches, else None (also for unknown names)."""
        account = self._load().get(name)
        try:
            _HASHER.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None:
            return None
        return _user(name, account)


class TooManySignIns(Exception):
    """Sign-ins for this account or from this client are held back after failures."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class SignInBusy(Exception):
    """Enough password checks are running already; this one was not started."""


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class _BackOff:
    """Failures per key (an account name or a client): after `free` of them, each
    further try waits twice as long as the one before, up to `max_s`. A key's failures
    are forgotten `forget_s` after its last one; at most `capacity` keys are kept, the
    one whose last failure is oldest making room (a spray of made-up names or addresses
    must not grow the table without end)."""

    def __init__(
        self, free: int, base_s: float, max_s: float, forget_s: float, capacity: int
    ) -> None:
        self.free, self.base_s, self.max_s = free, base_s, max_s
        self.forget_s, self.capacity = forget_s, capacity
        # oldest last failure first: `fail` moves a key to the end
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float:
        entry = self._entry(key, now)
        if entry is None or entry.count < self.free:
            return 0.0
        delay = min(self.max_s, self.base_s * 2 ** (entry.count - self.free))
        return float(max(0.0, entry.last + delay - now))

    def fail(self, key: str, now: float) -> int:
        entry = self._entry(key, now) or _Failures()
        entry.count, entry.last = entry.count + 1, now
        self._failures[key] = entry
        self._failures.move_to_end(key)
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)
        return entry.count

    def undo(self, key: str) -> None:
        """Takes back one failure counted up front for a try that did not fail."""
        entry = self._failures.get(key)
        if entry is not None:
            entry.count -= 1
            if entry.count <= 0:
                del self._failures[key]

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)

    def _entry(self, key: str, now: float) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is not None and now - entry.last > self.forget_s:
            del self._failures[key]
            return None
        return entry


class SignInGuard:
    """Password guessing made slow and cheap to refuse.

    Each verification costs ~100 ms of CPU and 64 MiB (argon2), so: after `free` failed
    tries an account, and separately a client, waits before the next try is even
    checked (doubling up to `max_s`; failures are forgotten `forget_s` after the last).
    A try counts as failed from before its check starts and is taken back if the
    password matches, so tries running in parallel cannot all slip in before the first
    failure is recorded. A success clears the account's failures but not the client's:
    one account of one's own must not reset the count of guesses at everyone else's.
    IPv6 clients are counted per /64 (one machine commonly holds a whole /64). At most
    `concurrent` verifications run at once, and one that cannot start within `queue_s`
    is refused. Every failure is logged with the account name and the client.
    """

    def __init__(
        self,
        *,
        account_free: int = 5,
        client_free: int = 10,
        base_s: float = 1.0,
        max_s: float = 300.0,
        forget_s: float = 86_400.0,
        capacity: int = 10_000,
        concurrent: int = 2,
        queue_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _BackOff(account_free, base_s, max_s, forget_s, capacity)
        self._clients = _BackOff(client_free, base_s, max_s, forget_s, capacity)
        self._lock = threading.Lock()  # sessions sign in on their own threads
        self._slots = threading.BoundedSemaphore(concurrent)
        self._queue_s = queue_s
        self._clock = clock

    def retry_after(self, name: str, client: str) -> float:
        """Seconds until `name` may be tried again from `client` (0: now)."""
        with self._lock:
            return self._retry_after(_account_key(name), client_key(client), self._clock())

    def authenticate(self, store: UserStore, name: str, password: str, client: str) -> User | None:
        """`store.authenticate`, unless held back (TooManySignIns) or busy (SignInBusy)."""
        account, source = _account_key(name), client_key(client)
        in_a_row, from_client = self._reserve(name, client, account, source)
        if not self._slots.acquire(timeout=self._queue_s):
            self._undo(account, source)  # never checked: no failure
            raise SignInBusy("too many sign-ins being checked at once")
        try:
            user = store.authenticate(name, password)
        except BaseException:
            self._undo(account, source)  # no verdict (a broken users file): no failure
            raise
        finally:
            self._slots.release()
        if user is not None:
            with self._lock:
                self._accounts.clear(account)
                self._clients.undo(source)
            return user
        log.warning(
            "failed sign-in for %r from %s (%d in a row for the account, %d from the client)",
            name[:64],
            client,
            in_a_row,
            from_client,
        )
        return None

    def _retry_after(self, account: str, source: str, now: float) -> float:
        return max(self._accounts.retry_after(account, now), self._clients.retry_after(source, now))

    def _reserve(self, name: str, client: str, account: str, source: str) -> tuple[int, int]:
        """Refuses a held-back try, else counts it as failed now, in one step under the
        lock: checking first and counting after the ~100 ms check let every parallel
        guess through before any of them was counted."""
        with self._lock:
            now = self._clock()
            wait = self._retry_after(account, source, now)
            if wait <= 0:
                return self._accounts.fail(account, now), self._clients.fail(source, now)
        log.warning(
            "sign-in for %r from %s refused: held back %.0f s more", name[:64], client, wait
        )
        raise TooManySignIns(wait)

    def _undo(self, account: str, source: str) -> None:
        with self._lock:
            self._accounts.undo(account)
            self._clients.undo(source)


def _account_key(name: str) -> str:
    return name[:64]  # longer names are no account (USERNAME_PATTERN), just guesses


def client_key(client: str) -> str:
    """Whom the per-client back-off counts: an IPv6 client by its /64 (a host commonly
    holds a whole /64 and can pick a new address per try), an IPv4-mapped IPv6 address
    as the IPv4 one, anything else as given.

    >>> [client_key(c) for c in ("10.0.0.5", "2001:db8::1", "::ffff:10.0.0.5", "loopback")]
    ['10.0.0.5', '2001:db8::/64', '10.0.0.5', 'loopback']
    """
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


# CLI -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds `add`, `list` and `remove` to the `cashwatch users` parser."""
    # SUPPRESS: never overwrite a --config the top-level parser already parsed.
    add_config_argument(parser, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help=_("create a dashboard account"))
    list_ = sub.add_parser("list", help=_("show the accounts"))
    remove = sub.add_parser("remove", help=_("delete an account"))
    for command in (add, list_, remove):  # `users add NAME --config X` reads naturally too
        add_config_argument(command, default=argparse.SUPPRESS)
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--site",
        action="append",
        default=[],
        dest="sites",
        help=_("limit the account to this site (repeatable; default: all sites)"),
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help=_("read the password from the first line of stdin"),
    )
    add.add_argument("--replace", action="store_true", help=_("overwrite an existing account"))
    remove.add_argument("name")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(_("Password: "))
    if getpass.getpass(_("Repeat password: ")) != first:
        raise AuthError(_("the two passwords differ"))
    return first


def _check_sites(sites: list[str], known: set[str], config: str) -> None:
    """A misspelt site would give the account an empty dashboard, silently."""
    unknown = sorted(set(sites) - known)
    if unknown:
        raise AuthError(
            _("no camera in {config} has site {unknown}; sites: {known}").format(
                config=config,
                unknown=", ".join(map(repr, unknown)),
                known=", ".join(sorted(known)) or _("none"),
            )
        )


def run(args: argparse.Namespace) -> int:
    from cashwatch.config import load_config

    loaded = load_config(getattr(args, "config", None), create=False)
    store = UserStore(loaded.data_dir)
    try:
        if args.users_command == "add":
            _check_sites(
                args.sites, {camera.site for camera in loaded.app.cameras}, str(loaded.path)
            )
            user = store.add(
                args.name,
                _read_password(args.password_stdin),
                args.role,
                args.sites,
                replace=args.replace,
            )
            print(
                _("added {name} ({role}; sites: {sites})").format(
                    name=user.name, role=user.role, sites=", ".join(user.sites) or _("all")
                )
            )
        elif args.users_command == "list":
            for user in store.users():
                print(f"{user.name}\t{user.role}\t{','.join(user.sites) or '*'}")
        elif args.users_command == "remove":
            store.remove(args.name)
            print(_("removed {name}").format(name=args.name))
    except AuthError as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 2
    return 0
