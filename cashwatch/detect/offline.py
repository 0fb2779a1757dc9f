"""Keep Ultralytics and OpenVINO off the network: CCTV sites are often offline by design.

Call `configure_offline(data_dir)` before the first import of ultralytics or openvino in a
process: both read their settings from the environment at import time.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

# Read once by ultralytics.utils at import time.
_ULTRALYTICS_ENV = {
    "YOLO_OFFLINE": "1",  # skips the DNS probe (is_online) and every hub/asset download
    "YOLO_AUTOINSTALL": "false",  # never pip-install a missing export requirement
}


def ultralytics_config_dir(data_dir: Path) -> Path:
    """Where Ultralytics keeps settings.json for this installation (not in the user's home).

    Args:
        data_dir: CashWatch's data folder.

    Returns:
        data_dir/models/ultralytics.
    """
    return Path(data_dir) / "models" / "ultralytics"


def configure_offline(data_dir: Path) -> None:
    """Switch off downloads, auto-installs, settings sync and OpenVINO telemetry.

    Idempotent; changes only this process's environment (inherited by its children) and,
    where no choice was recorded yet, OpenVINO's per-user telemetry consent file.

    Args:
        data_dir: CashWatch's data folder; Ultralytics' settings go under it.

    Example:
        >>> configure_offline(Path("/var/lib/cashwatch"))  # then import ultralytics
    """
    config_dir = ultralytics_config_dir(data_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(_ULTRALYTICS_ENV)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    opt_out_openvino_telemetry()


def openvino_consent_file() -> Path:
    """The file openvino_telemetry reads on Linux (`OptInChecker.consent_file`).

    Returns:
        ~/intel/openvino_telemetry of the current user.
    """
    return Path.home() / "intel" / "openvino_telemetry"


def opt_out_openvino_telemetry() -> None:
    """Record "0" (declined) in OpenVINO's consent file unless a choice is already there.

    This is what `opt_in_out --opt_out` stores, without that script's side effect: it
    sends an opt-out event over the network (`Telemetry._update_opt_in_status`). Without
    the file, OpenVINO's converter (used by the OpenVINO export) sends telemetry, because
    it initialises telemetry with the opt-in dialog disabled.
    """
    consent = openvino_consent_file()
    try:
        if consent.exists() and consent.read_text().strip() in {"0", "1"}:
            return  # an explicit choice by this machine's administrator
        consent.parent.mkdir(parents=True, exist_ok=True)
        consent.write_text("0")
    except OSError as error:
        log.warning("cannot write the OpenVINO telemetry opt-out %s: %s", consent, error)


def disable_ultralytics_sync() -> None:
    """Turn off Ultralytics' settings `sync` (crash reports and usage events).

    Only for processes that import ultralytics anyway (export, torch backend).
    """
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync"):
        SETTINGS.update(sync=False)  # type: ignore[no-untyped-call]  # unannotated upstream
