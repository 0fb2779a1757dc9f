"""Account edits from two processes at once (the dashboard and `cashwatch users`): each
read-change-write of users.json holds the file's lock, so neither loses the other's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from cashwatch.auth import UserStore, users_path
from cashwatch.util.files import exclusive
from tests.harness import camera_entry, wait_for, write_config

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "a long passphrase 42"
PER_PROCESS = 6

# Adds PER_PROCESS accounts named PREFIX-i once the file GO exists, so that the two
# processes' edits overlap (each add hashes a password for ~100 ms, the window in which
# an unlocked add loses whatever the other wrote meanwhile).
ADDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cashwatch.auth import UserStore
    data_dir, prefix, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[4])
    count = int(sys.argv[3])
    deadline = time.monotonic() + 60
    while not go.exists():  # the start signal, with a deadline
        if time.monotonic() > deadline:
            sys.exit("no start signal")
        time.sleep(0.005)
    store = UserStore(data_dir)
    for i in range(count):
        store.add(f"{prefix}-{i}", "a long passphrase 42", "analyst")
""")


def test_two_processes_adding_accounts_at_once_keep_every_account(tmp_path: Path) -> None:
    UserStore(tmp_path).add("ada", PASSWORD, "admin")
    go = tmp_path / "go"
    adders = [
        subprocess.Popen(
            [sys.executable, "-c", ADDER, str(tmp_path), prefix, str(PER_PROCESS), str(go)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("dash", "cli")
    ]
    go.touch()
    for adder in adders:
        _, errors = adder.communicate(timeout=120)
        assert adder.returncode == 0, errors[-2000:]
    names = {user.name for user in UserStore(tmp_path).users()}
    expected = {"ada", *(f"{p}-{i}" for p in ("dash", "cli") for i in range(PER_PROCESS))}
    assert names == expected, f"lost: {sorted(expected - names)}"


def _waits_for_lock(pid: int, path: Path) -> bool:
    """Whether process `pid` is blocked on a lock of `path` (a '->' line of /proc/locks,
    'N: -> FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF')."""
    inode = path.stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and str(pid) in fields and fields[-3].endswith(f":{inode}"):
            return True
    return False


def test_the_cli_waits_while_another_process_edits_the_accounts(tmp_path: Path) -> None:
    """`cashwatch users add` waits for the lock another writer (here: this process, as
    the dashboard would) holds on users.json, and its account is written after."""
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("cam-a", "/videos/a.mp4")])
    store = UserStore(tmp_path)
    store.add("ada", PASSWORD, "admin")
    path = users_path(tmp_path)
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    with exclusive(path), password.open() as stdin:
        cli = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cashwatch.cli",
                "users",
                "add",
                "bob",
                "--role",
                "analyst",
                "--password-stdin",
                "--config",
                str(config),
            ],
            cwd=REPO,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(
                lambda: cli.poll() is not None or _waits_for_lock(cli.pid, path),
                60,
                "the CLI to reach the lock",
            )
            assert cli.poll() is None, "the CLI wrote without waiting for the lock"
            assert "bob" not in path.read_text()
        except BaseException:
            cli.kill()
            raise
    _, errors = cli.communicate(timeout=60)
    assert cli.returncode == 0, errors
    assert {u.name for u in store.users()} == {"ada", "bob"}
