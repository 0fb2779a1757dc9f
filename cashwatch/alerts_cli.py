"""`cashwatch alerts`: list the alert targets, suspend and resume a camera's alerts, send
a test alert.

Outside `cashwatch.alerts` because suspending goes through the manager's request files
(`cashwatch.manager.requests`), which the alerts package must not import.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cashwatch.alerts.message import Alert
from cashwatch.alerts.senders.base import Sender, SendError
from cashwatch.alerts.state import parse_duration, read_state, read_suspended
from cashwatch.alerts.summary import (
    Target,
    filters_text,
    joined_states,
    local_time,
    stale_note,
    status_word,
)
from cashwatch.cli import print_table, require_camera
from cashwatch.cli_args import add_config_argument
from cashwatch.config import LoadedConfig, load_config
from cashwatch.config.alerts import MissingSecret, MqttTarget, with_language
from cashwatch.i18n import DEFAULT, N_, _, language, speaking
from cashwatch.util.redact import mask_credentials

# `cashwatch status` and `alerts list`: what an operator acts on first
# (key, heading): the headings translated where the table is printed
TARGET_COLUMNS = (
    ("name", N_("target")),
    ("kind", N_("kind")),
    ("pending", N_("pending")),
    ("sent_total", N_("sent")),
    ("failed_total", N_("failed")),
    ("status", N_("status")),
)
FILTERS_COLUMN = ("filters", N_("filters"))
POLL_S = 0.2
NOT_IN_CONFIG = "(not in the config file)"  # a target's filters when the file lost it
# How the tables say a target's `status` and the filters of one the file no longer
# names; --json keeps the values as they are
SHOWN = {
    "ok": N_("ok"),
    "failing": N_("failing"),
    NOT_IN_CONFIG: N_("(not in the config file)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds `list`, `suspend`, `resume` and `test` to the `cashwatch alerts` parser."""
    sub = parser.add_subparsers(dest="alerts_command", required=True)
    list_ = sub.add_parser("list", help=_("the targets, their state and the suspended cameras"))
    list_.add_argument("--json", action="store_true", help=_("machine-readable output"))
    suspend = sub.add_parser("suspend", help=_("no alerts for a camera for a while"))
    suspend.add_argument("camera", help=_("camera id"))
    suspend.add_argument(
        "--for", dest="duration", required=True, help=_("how long: 5m, 30m, 2h, 1h30m (1m-24h)")
    )
    resume = sub.add_parser("resume", help=_("alerts for a suspended camera again, now"))
    resume.add_argument("camera", help=_("camera id"))
    for command in (suspend, resume):
        command.add_argument(
            "--timeout",
            type=float,
            default=10.0,
            help=_("seconds to wait for the manager to take it"),
        )
    test = sub.add_parser("test", help=_("send a test alert to a target now (no manager needed)"))
    test.add_argument("name", help=_("the target's name in [[alerts]]"))
    for command in (list_, suspend, resume, test):
        add_config_argument(command)


def run(args: argparse.Namespace) -> int:
    """Runs the chosen `alerts` command; 0 ok, 1 failed, 2 bad input."""
    loaded = load_config(args.config, create=False)
    commands: dict[str, Callable[[LoadedConfig, argparse.Namespace], int]] = {
        "list": _list,
        "suspend": _suspend,
        "resume": _resume,
        "test": _test,
    }
    return commands[args.alerts_command](loaded, args)


def alerts_summary(data_dir: Path, targets: Sequence[Target]) -> dict[str, Any] | None:
    """The targets (the configured ones with the manager's state of them, as dicts), the
    suspended cameras and how old the state is; None when there is nothing to say (no
    target configured and none reported), so `cashwatch status` leaves the section out.
    """
    written_at, states = read_state(data_dir)
    joined = joined_states(targets, states)
    if not joined:
        return None
    filters = {t.name: filters_text(t) for t in targets}
    rows = [
        dataclasses.asdict(s)
        | {
            "status": status_word(s),
            # the senders keep secrets out of their errors; a URL's password is masked
            # anyway, as everywhere a message may be pasted from
            "last_error": mask_credentials(s.last_error),
            "filters": filters.get(s.name, NOT_IN_CONFIG),
        }
        for s in joined
    ]
    return {
        "written_at": written_at,
        "stale": stale_note(written_at),
        "targets": rows,
        "suspended": read_suspended(data_dir),
    }


def print_targets(summary: dict[str, Any], extra: tuple[tuple[str, str], ...] = ()) -> None:
    """The targets' table, each failing one's last error below its row, then the
    suspended cameras and a line when the numbers are old."""
    shown = [
        target
        | {key: _(SHOWN[target[key]]) for key in ("status", "filters") if target.get(key) in SHOWN}
        for target in summary["targets"]
    ]
    print_table(shown, TARGET_COLUMNS + extra, "last_error")
    for camera, until in sorted(summary["suspended"].items()):
        print(
            _("{camera}: alerts suspended until {until}").format(
                camera=camera, until=local_time(until)
            )
        )
    if summary["stale"]:
        print(_("note: {note}").format(note=summary["stale"]))


def _list(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    # JSON is read by programs: its texts (a target's filters, a stale note) stay English
    with speaking(DEFAULT if args.json else language()):
        summary = alerts_summary(loaded.data_dir, loaded.app.alerts)
    summary = summary or {
        "written_at": 0.0,
        "stale": "",
        "targets": [],
        "suspended": read_suspended(loaded.data_dir),
    }
    summary["broken"] = loaded.alert_errors
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    if summary["targets"]:
        print_targets(summary, extra=(FILTERS_COLUMN,))
    else:
        print(
            _("no alert targets in {path} (add [[alerts]]; see docs/alerts.md)").format(
                path=loaded.path
            )
        )
    for name, why in loaded.alert_errors.items():
        print(_("{label}: REJECTED  {reason}").format(label=name, reason=why))
    return 0


def _suspend(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    require_camera(loaded, args.camera)  # names the known cameras if this one is not among them
    try:
        seconds = parse_duration(args.duration)
    except ValueError as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 2
    until = time.time() + seconds
    return _request(
        loaded.data_dir,
        args.camera,
        until,
        # the manager may round what it stores: within a second is the same request
        lambda suspended: abs(suspended.get(args.camera, 0.0) - until) < 1.0,
        (
            N_("{camera}: alerts suspended until {until}"),
            N_(
                "no manager is running: the request waits for its next start "
                "({camera}: alerts suspended until {until} then)"
            ),
        ),
        args.timeout,
    )


def _resume(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    require_camera(loaded, args.camera)
    return _request(
        loaded.data_dir,
        args.camera,
        time.time(),  # a suspension that ends now is lifted
        lambda suspended: args.camera not in suspended,
        (
            N_("{camera}: alerts resumed"),
            N_(
                "no manager is running: the request waits for its next start "
                "({camera}: alerts resumed then)"
            ),
        ),
        args.timeout,
    )


def _request(
    data_dir: Path,
    camera_id: str,
    until: float,
    taken: Callable[[dict[str, float]], bool],
    outcome: tuple[str, str],
    timeout_s: float,
) -> int:
    """Leave a suspend_alerts request and wait until the manager has recorded it.

    `outcome`: what to print (`{camera}`, `{until}`) once the manager took it, and while
    no manager runs; English, translated here."""
    from cashwatch.manager.requests import submit_request
    from cashwatch.status import ManagerNotRunning, read_status

    taken_text, queued_text = outcome
    shown = {"camera": camera_id, "until": local_time(until)}
    submit_request(data_dir, "suspend_alerts", camera_id, until=until)
    try:
        read_status(data_dir)
    except ManagerNotRunning:
        print(_(queued_text).format(**shown))
        return 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if taken(read_suspended(data_dir)):
            print(_(taken_text).format(**shown))
            return 0
        time.sleep(POLL_S)  # the manager takes requests on its next loop
    message = _(
        "the manager did not take the request for {camera} within {seconds} s; it stays "
        "queued (see the manager's log)"
    ).format(camera=camera_id, seconds=f"{timeout_s:.0f}")
    print(f"cashwatch: {message}", file=sys.stderr)
    return 1


def probe_alert(now: float | None = None) -> Alert:
    """The alert `alerts test` sends: phase and type `test`, from camera `cashwatch`."""
    alert_id = f"test-{uuid.uuid4()}"
    return Alert(
        alert_id=alert_id,
        phase="test",
        event_id=alert_id,
        camera_id="cashwatch",
        camera_name="CashWatch",
        site="",
        event_type="test",
        started_at=time.time() if now is None else now,
        details={"note": "a test alert sent with `cashwatch alerts test`"},
    )


def _target(loaded: LoadedConfig, name: str) -> Target:
    """The configured target `name`; KeyError naming the known ones (exit 2)."""
    for target in loaded.app.alerts:
        if target.name == name:
            return target
    if name in loaded.alert_errors:
        raise KeyError(
            _("alert target {name} is left out of {path}: {reason}").format(
                name=repr(name), path=loaded.path, reason=loaded.alert_errors[name]
            )
        )
    known = ", ".join(t.name for t in loaded.app.alerts) or _("none")
    raise KeyError(
        _("no alert target {name} in {path}; targets: {known}").format(
            name=repr(name), path=loaded.path, known=known
        )
    )


def _make_sender(target: Target) -> Sender:
    # imported when used: only `alerts test` needs the senders' network libraries
    from cashwatch.alerts.senders import MqttSender, make_sender

    if isinstance(target, MqttTarget):
        # a one-off message: not the installation's presence, which the running
        # manager's connection keeps (its last will and `available`)
        return MqttSender(target, presence=False)
    return make_sender(target)


def _test(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    # as the alert service sends it: in the target's language, else the dashboard's
    target = with_language(_target(loaded, args.name), loaded.app.dashboard.language)
    try:
        _send_test(target)
    except (SendError, MissingSecret) as exc:  # the target's fault, said in its words
        print(_("failed: {reason}").format(reason=exc), file=sys.stderr)
        return 1
    print(_("sent to {name}").format(name=target.name))
    return 0


def _send_test(target: Target) -> None:
    """Send a test alert straight to the target (no outbox, no manager)."""
    sender = _make_sender(target)
    try:
        sender.send(probe_alert(), None)
    finally:
        sender.close()  # its connection (an MQTT client, an SMTP session) is not left open
