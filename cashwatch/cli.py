"""The `cashwatch` command."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from cashwatch.cli_args import add_config_argument
from cashwatch.config import ConfigError, LoadedConfig, load_config, resolve_config_path
from cashwatch.config.loader import data_dir_of_broken_config
from cashwatch.i18n import (
    DEFAULT,
    LANGUAGES,
    N_,
    UnknownLanguage,
    _,
    cli_language,
    language,
    speaking,
    split_lang,
    use,
)
from cashwatch.launcher import DashboardMissing

DESCRIPTION = N_(
    "CashWatch: CCTV analytics for cashier counters. Run the manager, the dashboard or "
    "the demo, and look after the cameras, events, tills and alerts."
)

STATUS_COLUMNS = (
    "camera_id",
    "state",
    "node",
    "pid",
    "core",
    "camera_fps",
    "detection_fps",
    "frames_read",
    "frames_processed",
    "frames_skipped",
    "events_detected",
    "restarts",
    "reconnects",
    "uptime",
    "last_error",
)
# `cashwatch status` without --wide fits an 80-100 column terminal: the columns an
# operator acts on, short headings, and each camera's error on its own wrapped line
# below its row (with a 32-character camera id the widest row is ~98 characters).
# Headings are translated where the table is printed (N_: the language is not known yet).
NARROW_COLUMNS = (
    ("camera_id", N_("camera")),
    ("state", N_("state")),
    ("pid", N_("pid")),
    ("camera_fps", N_("fps")),
    ("detection_fps", N_("det/s")),
    ("events_detected", N_("events")),
    ("restarts", N_("restarts")),
    ("uptime", N_("uptime")),
)
NARROW_WIDTH = 100

# The shared inference services (`service_record` in cashwatch.status), below the
# cameras. --wide: every field, the error last, as for the cameras.
SERVICE_COLUMNS = (
    "name",
    "state",
    "device",
    "pid",
    "uptime",
    "restarts",
    "clients",
    "queue_len",
    "queue_max",
    "batch_mean",
    "batch_max",
    "inference_ms",
    "requests",
    "batches",
    "dropped",
    "failed",
    "videos",
    "video_ms",
    "cpu_percent",
    "rss_mib",
    "models",
    "error",
)
# Narrow: what says a service keeps up (queue, batches, model time, lost requests); the
# pairs are `now/most` over its last report period. About 95 columns: within NARROW_WIDTH.
SERVICE_NARROW_COLUMNS = (
    ("name", N_("service")),
    ("state", N_("state")),
    ("device", N_("device")),
    ("uptime", N_("uptime")),
    ("restarts", N_("restarts")),
    ("clients", N_("cams")),
    ("queue", N_("queue")),
    ("batch", N_("batch")),
    ("inference_ms", N_("inf ms")),
    ("dropped", N_("dropped")),
    ("failed", N_("failed")),
)
# --wide heads its columns with the fields' names (those of --json) in English; in
# another language with what they are, translated where the table is printed.
WIDE_HEADINGS = {
    "camera_id": N_("camera_id"),
    "state": N_("state"),
    "node": N_("node"),
    "pid": N_("pid"),
    "core": N_("core"),
    "camera_fps": N_("camera_fps"),
    "detection_fps": N_("detection_fps"),
    "frames_read": N_("frames_read"),
    "frames_processed": N_("frames_processed"),
    "frames_skipped": N_("frames_skipped"),
    "events_detected": N_("events_detected"),
    "restarts": N_("restarts"),
    "reconnects": N_("reconnects"),
    "uptime": N_("uptime"),
    "last_error": N_("last_error"),
    "name": N_("name"),
    "device": N_("device"),
    "clients": N_("clients"),
    "queue_len": N_("queue_len"),
    "queue_max": N_("queue_max"),
    "batch_mean": N_("batch_mean"),
    "batch_max": N_("batch_max"),
    "inference_ms": N_("inference_ms"),
    "requests": N_("requests"),
    "batches": N_("batches"),
    "dropped": N_("dropped"),
    "failed": N_("failed"),
    "videos": N_("videos"),
    "video_ms": N_("video_ms"),
    "cpu_percent": N_("cpu_percent"),
    "rss_mib": N_("rss_mib"),
    "models": N_("models"),
    "error": N_("error"),
}

# A stop is written into the config: an operator must know it outlives the manager.
STOP_DESCRIPTION = N_(
    "Disable the camera and wait until it stops. The stop lasts across "
    "manager restarts and reboots: it sets `enabled = false` for the camera "
    "in the config file. Undo it with `cashwatch start CAMERA`."
)

# Sub-commands implemented elsewhere: module with add_arguments(parser) and run(args) -> int
PLUGGED = {
    "events": ("cashwatch.store.cli", N_("list or export events from DuckDB")),
    "db": (
        "cashwatch.store.recover",
        N_("event database upkeep: `db recover` rebuilds a damaged one from the journals"),
    ),
    "eval": ("cashwatch.detect.evaluate", N_("evaluate detection on labelled clips")),
    "users": ("cashwatch.auth", N_("manage dashboard accounts")),
    "till": ("cashwatch.till.cli", N_("till transactions: `till import FILE.csv`")),
    "alerts": (
        "cashwatch.alerts_cli",
        N_("alert targets: list them, suspend or resume a camera's alerts, send a test"),
    ),
}


def _config_arg(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def cmd_run(args: argparse.Namespace) -> int:
    from cashwatch.manager.service import run_manager

    if args.ray:
        try:
            import ray  # noqa: F401 - only to say clearly what is missing
        except ImportError:
            # Ray is the optional extra `ray` (pyproject.toml), pinned by constraints.txt
            print(
                "cashwatch: "
                + _(
                    "--ray needs Ray on this machine: pip install 'cashwatch[ray]' "
                    "(with -c constraints.txt for the tested version)"
                ),
                file=sys.stderr,
            )
            return 2
    return run_manager(args.config, ray_address=args.ray)


def cmd_demo(args: argparse.Namespace) -> int:
    from cashwatch.launcher import run_demo

    return run_demo(args.config, port=args.port)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from cashwatch.launcher import run_dashboard

    run_dashboard(args.config, port=args.port)  # execs Streamlit: returns only by raising


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config as the manager would, without running anything."""
    loaded = load_config(args.config, create=False)
    from cashwatch.util.redact import mask_credentials

    for camera in loaded.app.cameras:
        state = _("ok") if camera.enabled else _("ok (disabled)")
        print(f"{camera.id}: {state}  {mask_credentials(camera.source)}")
    for label, message in loaded.camera_errors.items():
        print(
            _("{label}: REJECTED  {reason}").format(label=label, reason=mask_credentials(message))
        )
    for target in loaded.app.alerts:
        print(_("alert {name}: ok ({kind})").format(name=target.name, kind=target.kind))
    for label, message in loaded.alert_errors.items():
        print(
            _("alert {label}: REJECTED  {reason}").format(
                label=label, reason=mask_credentials(message)
            )
        )
    counts = {
        "path": loaded.path,
        "cameras": len(loaded.app.cameras),
        "rejected": len(loaded.camera_errors),
        "targets": len(loaded.app.alerts),
        "targets_rejected": len(loaded.alert_errors),
        "data_dir": loaded.data_dir,
    }
    if loaded.app.alerts or loaded.alert_errors:
        summary = _(
            "{path}: {cameras} camera(s) valid, {rejected} rejected, {targets} alert "
            "target(s) valid, {targets_rejected} rejected; data folder {data_dir}"
        )
    else:
        summary = _(
            "{path}: {cameras} camera(s) valid, {rejected} rejected; data folder {data_dir}"
        )
    print(summary.format(**counts))
    return 1 if loaded.camera_errors or loaded.alert_errors else 0


def _table_lines(headings: Sequence[str], rows: list[list[str]]) -> list[str]:
    """Columns lined up by terminal width: a Hangul heading takes two columns a letter."""
    from cashwatch.status import pad, text_width

    widths = [
        max(text_width(h), *(text_width(r[i]) for r in rows)) if rows else text_width(h)
        for i, h in enumerate(headings)
    ]
    return [
        "  ".join(pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [list(headings), *rows]
    ]


def _print_wide_table(records: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    rows = [[_cell(record.get(col)) for col in columns] for record in records]
    headings = [_(WIDE_HEADINGS[col]) if col in WIDE_HEADINGS else col for col in columns]
    print("\n".join(_table_lines(headings, rows)))


def _wrapped(label: str, text: str, indent: str = "") -> list[str]:
    """`label text`, wrapped to NARROW_WIDTH; long words (URLs) are broken too."""
    from cashwatch.status import text_width

    return textwrap.wrap(
        text,
        NARROW_WIDTH,
        initial_indent=f"{indent}{label} ",
        subsequent_indent=indent + " " * (text_width(label) + 1),
    ) or [indent + label]


def print_table(
    records: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]], error_key: str
) -> None:
    """The narrow table: each record's error on its own wrapped line below its row.

    `columns`: (key, heading) pairs, the headings English (marked with `N_`): they are
    translated here."""
    records = list(records)
    rows = [[_cell(record.get(key)) for key, _heading in columns] for record in records]
    header, *lines = _table_lines([_(heading) for _key, heading in columns], rows)
    print(header)
    for line, record in zip(lines, records, strict=True):
        print(line)
        if record.get(error_key):
            print("\n".join(_wrapped(_("error:"), str(record[error_key]), indent="  ")))


def _narrow_service(record: dict[str, Any]) -> dict[str, Any]:
    """A service's record with its narrow table's paired cells (`now/most`)."""
    return record | {
        "queue": f"{record.get('queue_len', 0)}/{record.get('queue_max', 0)}",
        "batch": f"{float(record.get('batch_mean', 0.0)):.1f}/{record.get('batch_max', 0)}",
    }


def _print_status(status: dict[str, Any], wide: bool) -> None:
    workers, services = status["workers"].values(), status["services"]
    if wide:
        _print_wide_table(workers, STATUS_COLUMNS)
    else:
        print_table(workers, NARROW_COLUMNS, "last_error")
    if services:  # none: models run in each camera worker, or an older manager
        print()
        if wide:
            _print_wide_table(services, SERVICE_COLUMNS)
        else:
            print_table(map(_narrow_service, services), SERVICE_NARROW_COLUMNS, "error")
    for label, key in ((_("config error:"), "config_error"), (_("database error:"), "db_error")):
        if status["manager"][key]:
            print()
            print("\n".join(_wrapped(label, status["manager"][key])))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value if value is not None else "")


def _mask_texts(status: dict[str, Any]) -> None:
    """Mask what may quote a camera URL, whatever manager wrote it (an older one did not
    mask, and a terminal's scroll-back or a pasted `--json` outlives the fix)."""
    from cashwatch.status import RECORD_TEXTS
    from cashwatch.util.redact import mask_credentials

    for key in ("config_error", "db_error"):
        status["manager"][key] = mask_credentials(str(status["manager"].get(key) or ""))
    for record in status["workers"].values():
        for key in RECORD_TEXTS:
            record[key] = mask_credentials(str(record.get(key) or ""))
    for service in status["services"]:
        # a crash's message may quote what the service was reading: a camera's request
        service["error"] = mask_credentials(str(service.get("error") or ""))


def cmd_status(args: argparse.Namespace) -> int:
    from cashwatch.alerts_cli import alerts_summary, print_targets
    from cashwatch.status import ManagerNotRunning, read_status

    try:
        loaded = load_config(args.config, create=False)
        data_dir, targets = loaded.data_dir, loaded.app.alerts
    except ConfigError as exc:
        if not resolve_config_path(args.config).exists():
            raise
        # the operator needs status most when the file is broken: the manager keeps its
        # last good config, so read what it publishes for the data folder the file names
        # (its alert targets too: state.json names those it sends to)
        data_dir, targets = data_dir_of_broken_config(args.config), []
        print("cashwatch: " + _("warning: {message}").format(message=exc), file=sys.stderr)
    try:
        status = read_status(data_dir)
    except ManagerNotRunning as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 1
    _mask_texts(status)
    # JSON is read by programs: its texts (a target's filters, a stale note) stay English
    with speaking(DEFAULT if args.json else language()):
        alerts = alerts_summary(data_dir, targets)
    if args.json:
        shown = {key: status[key] for key in ("manager", "workers", "services")}
        if alerts is not None:
            shown["alerts"] = alerts
        print(json.dumps(shown, indent=2, default=str))
        return 0
    _print_status(status, args.wide)
    if alerts is not None:
        print()
        print_targets(alerts)
    return 0


# What `start`, `stop` and `restart` wait for: (the camera's outcome when no manager
# runs, the error when the wait times out), whole sentences for each.
WAITED = {
    "running": (
        N_("config changed; no manager is running, so {camera} will be running when one starts"),
        N_("{camera} not running after {seconds} s (state {state}: {error})"),
    ),
    "stopped": (
        N_("config changed; no manager is running, so {camera} will be stopped when one starts"),
        N_("{camera} not stopped after {seconds} s (state {state}: {error})"),
    ),
    "restarted": (
        N_("config changed; no manager is running, so {camera} will be restarted when one starts"),
        N_("{camera} not restarted after {seconds} s (state {state}: {error})"),
    ),
}


def _wait_for(
    data_dir: Path,
    camera_id: str,
    done: Callable[[dict[str, Any]], bool],
    what: str,
    timeout_s: float,
) -> int:
    """Wait until `done(record)`; `what`: a key of WAITED."""
    from cashwatch.status import ManagerNotRunning, read_status

    no_manager, timed_out = WAITED[what]
    deadline = time.monotonic() + timeout_s
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            record = read_status(data_dir)["workers"].get(camera_id, {})
        except ManagerNotRunning:
            print(_(no_manager).format(camera=camera_id))
            return 0
        if record and done(record):
            print(f"{camera_id}: {record['state']}")
            return 0
        time.sleep(0.2)  # polling the status table with a deadline
    message = _(timed_out).format(
        camera=camera_id,
        seconds=f"{timeout_s:.0f}",
        state=record.get("state", "?"),
        error=record.get("last_error", ""),
    )
    print(f"cashwatch: {message}", file=sys.stderr)
    return 1


def require_camera(loaded: LoadedConfig, camera_id: str) -> None:
    """KeyError naming the known cameras (the CLI's exit 2) unless the config has it."""
    if camera_id not in loaded.cameras:
        known = ", ".join(sorted(loaded.cameras)) or _("none")
        raise KeyError(
            _("no camera {camera} in {path}; cameras: {known}").format(
                camera=repr(camera_id), path=loaded.path, known=known
            )
        )


def cmd_enable(args: argparse.Namespace) -> int:
    from cashwatch.config.edit import set_camera_enabled

    loaded = load_config(args.config, create=False)
    enable = args.command == "start"
    set_camera_enabled(loaded.path, args.camera, enable)
    if enable:
        return _wait_for(
            loaded.data_dir, args.camera, lambda r: r["running"], "running", args.timeout
        )
    return _wait_for(
        loaded.data_dir, args.camera, lambda r: r["state"] == "stopped", "stopped", args.timeout
    )


def cmd_restart(args: argparse.Namespace) -> int:
    from cashwatch.manager.requests import submit_request
    from cashwatch.status import ManagerNotRunning, read_status

    loaded = load_config(args.config, create=False)
    require_camera(loaded, args.camera)  # names the known cameras if this one is not among them
    try:
        old_pid = read_status(loaded.data_dir)["workers"].get(args.camera, {}).get("pid")
    except ManagerNotRunning as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 1
    submit_request(loaded.data_dir, "restart", args.camera)
    return _wait_for(
        loaded.data_dir,
        args.camera,
        lambda r: r["running"] and r["pid"] != old_pid,
        "restarted",
        args.timeout,
    )


def build_parser() -> argparse.ArgumentParser:
    """The command's parser, its help in the language in use (`cashwatch.i18n.use`)."""
    parser = argparse.ArgumentParser(prog="cashwatch", description=_(DESCRIPTION))
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        help=_("the language of the messages (default: from LANG, else en)"),
    )
    sub = parser.add_subparsers(dest="command", required=True, title=_("commands"))
    run = sub.add_parser("run", help=_("run the manager (camera workers, event store)"))
    _config_arg(run)
    run.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        help=_(
            "run the cameras as actors on a Ray cluster: 'auto' (the cluster "
            "`ray start` set up on this machine) or the head's host:port; "
            "see docs/deployment.md"
        ),
    )
    run.set_defaults(func=cmd_run)
    demo = sub.add_parser("demo", help=_("run the manager and the dashboard on demo cameras"))
    _config_arg(demo)
    demo.add_argument("--port", type=int, help=_("dashboard port (default: [dashboard] port)"))
    demo.set_defaults(func=cmd_demo)
    dashboard = sub.add_parser("dashboard", help=_("run the dashboard where [dashboard] says"))
    _config_arg(dashboard)
    dashboard.add_argument("--port", type=int, help=_("override [dashboard] port"))
    dashboard.set_defaults(func=cmd_dashboard)
    check = sub.add_parser(
        "check", help=_("validate the config; exit 1 if a camera or alert target is rejected")
    )
    _config_arg(check)
    check.set_defaults(func=cmd_check)
    status = sub.add_parser("status", help=_("show every camera's and inference service's status"))
    _config_arg(status)
    status.add_argument("--json", action="store_true", help=_("machine-readable output"))
    status.add_argument(
        "--wide",
        action="store_true",
        help=_("every column, errors in the last one (wider than 100 columns)"),
    )
    status.set_defaults(func=cmd_status)
    _camera_commands(sub)
    for name, (_module, help_text) in PLUGGED.items():
        sub.add_parser(name, help=_(help_text), add_help=False)
    return parser


def _camera_commands(sub: Any) -> None:
    """start, stop and restart: one camera each."""
    for name, func, help_text, description in (
        (
            "start",
            cmd_enable,
            N_("enable a camera and wait until it runs"),
            N_("Set `enabled = true` for the camera in the config and wait until it runs."),
        ),
        ("stop", cmd_enable, N_("disable a camera and wait until it stops"), STOP_DESCRIPTION),
        (
            "restart",
            cmd_restart,
            N_("restart a camera's worker"),
            N_("Restart the camera's worker process now; the config is not changed."),
        ),
    ):
        command = sub.add_parser(name, help=_(help_text), description=_(description))
        command.add_argument("camera", help=_("camera id"))
        _config_arg(command)
        command.add_argument("--timeout", type=float, default=60.0, help=_("seconds to wait"))
        command.set_defaults(func=func)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        use(cli_language(argv))  # before the parsers: their help is written in it
    except UnknownLanguage as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 2
    argv = split_lang(argv)[1]  # read already: it may stand anywhere
    parser = build_parser()
    if argv and argv[0] in PLUGGED:
        # plugged commands define their own arguments; import them only when used
        module = importlib.import_module(PLUGGED[argv[0]][0])
        description = _(PLUGGED[argv[0]][1])
        sub = argparse.ArgumentParser(prog=f"cashwatch {argv[0]}", description=description)
        module.add_arguments(sub)
        args = sub.parse_args(argv[1:])
        runner = module.run
    else:
        args = parser.parse_args(argv)
        runner = args.func
    try:
        return int(runner(args))
    except ConfigError as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"cashwatch: {exc.args[0]}", file=sys.stderr)
        return 2
    except DashboardMissing as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
