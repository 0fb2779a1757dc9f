"""No network: not from Ultralytics' probes and downloads, not from OpenVINO telemetry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cashwatch.detect.offline import configure_offline
from tests.conftest import REPO, require_media

_OFFLINE_KEYS = ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "YOLO_CONFIG_DIR")

# Records every attempt to resolve or reach a host, and refuses it, so that nothing leaves
# the machine even if a check fails. The last line printed is the JSON verdict.
_AUDITED_RUN = """
import json, socket, sys
attempts = []
def refuse_network(event, args):
    if event in {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"}:
        attempts.append(f"{event} {args[1:2] if event == 'socket.connect' else args[:1]}")
        raise OSError(f"network disabled in this test: {event}")
sys.addaudithook(refuse_network)

from pathlib import Path
data_dir, out_dir, image = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
from cashwatch.detect.offline import configure_offline
configure_offline(data_dir)

import cv2
from cashwatch.config.detection import ModelConfig
from cashwatch.detect.backends import load_pose_model
from cashwatch.detect.backends.export import main as export_main
from cashwatch.detect.weights import resolve_weights
people = len(load_pose_model(ModelConfig(backend="openvino"), data_dir).predict(cv2.imread(image)))
weights = resolve_weights("yolo11n-pose.pt").path
export_main(["--weights", str(weights), "--format", "openvino", "--imgsz", "320",
             "--out", str(out_dir), "--data-dir", str(data_dir)])
exported = sorted(p.name for p in out_dir.iterdir())
during_run = list(attempts)
try:  # control: the hook does see a lookup
    socket.getaddrinfo("example.invalid", 80)
except OSError:
    pass
print(json.dumps({"people": people, "exported": exported, "attempts": during_run,
                  "control_seen": len(attempts) > len(during_run)}))
"""


@pytest.mark.media
@pytest.mark.slow
def test_openvino_inference_and_export_open_no_connection(
    model_data_dir: Path, tmp_path: Path
) -> None:
    image = require_media("images/yolov5_zidane.jpg")
    home, out_dir = tmp_path / "home", tmp_path / "export"
    home.mkdir()
    out_dir.mkdir()
    # A fresh HOME: no OpenVINO consent file yet, as on a newly installed site.
    env = {k: v for k, v in os.environ.items() if k not in _OFFLINE_KEYS} | {"HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-c", _AUDITED_RUN, str(model_data_dir), str(out_dir), str(image)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert report["control_seen"] is True
    assert report["people"] == 2
    assert report["exported"] == ["metadata.yaml", "model.bin", "model.xml"]
    assert (home / "intel" / "openvino_telemetry").read_text() == "0"
    # OpenVINO creates a client id only when it means to send telemetry.
    assert not (home / "intel" / "openvino_ga_cid").exists()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Offline variables unset (restored afterwards) and HOME in a temp folder."""
    for key in _OFFLINE_KEYS:
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def test_configure_offline_sets_ultralytics_env_inside_data_dir(
    clean_env: Path, tmp_path: Path
) -> None:
    configure_offline(tmp_path / "data")
    assert os.environ["YOLO_OFFLINE"] == "1"
    assert os.environ["YOLO_AUTOINSTALL"] == "false"
    config_dir = Path(os.environ["YOLO_CONFIG_DIR"])
    assert config_dir == tmp_path / "data" / "models" / "ultralytics" and config_dir.is_dir()
    assert (clean_env / "intel" / "openvino_telemetry").read_text() == "0"


@pytest.mark.parametrize("recorded", ["0", "1"])
def test_configure_offline_keeps_an_administrators_telemetry_choice(
    clean_env: Path, tmp_path: Path, recorded: str
) -> None:
    consent = clean_env / "intel" / "openvino_telemetry"
    consent.parent.mkdir()
    consent.write_text(recorded)
    configure_offline(tmp_path / "data")
    assert consent.read_text() == recorded


def test_configure_offline_replaces_an_unreadable_consent(clean_env: Path, tmp_path: Path) -> None:
    consent = clean_env / "intel" / "openvino_telemetry"
    consent.parent.mkdir()
    consent.write_text("")  # OpenVINO treats an empty file as "declined" with a warning
    configure_offline(tmp_path / "data")
    assert consent.read_text() == "0"
