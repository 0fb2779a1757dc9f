"""`cashwatch eval`: labels in, the live pipeline over each clip, scores out."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from cashwatch.cli import main
from tests.conftest import require_media, write_test_video
from tests.rules.tampering import cover


def write_config(tmp_path: Path, model_data_dir: Path) -> Path:
    config = tmp_path / "cashwatch.toml"
    config.write_text(f'data_dir = "{model_data_dir}"\n[model]\nbackend = "openvino"\n')
    return config


@pytest.mark.media
def test_json_report_has_the_documented_shape(
    tmp_path: Path, model_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fight = require_media("video/v1_fight_at_shop_counter__fightsurv_fi082.mp4")
    calm = require_media("video/a7_shop_counter_calm__fightsurv_nofi005.mp4")
    write_test_video(tmp_path / "bar.avi", seconds=2.0)
    (tmp_path / "cam.toml").write_text(
        "cooldown_s = 5.0\n[zones]\ncashier = [[0.6, 0.0], [1.0, 0.0], [1.0, 1.0], [0.6, 1.0]]\n"
    )
    labels = tmp_path / "labels.csv"
    labels.write_text(f"path,events,camera\n{fight},violence,\n{calm},,\nbar.avi,,cam.toml\n")
    config = write_config(tmp_path, model_data_dir)
    code = main(["eval", str(labels), "--json", "--config", str(config)])
    captured = capsys.readouterr()
    assert code == 0
    report = json.loads(captured.out)
    assert set(report) == {"types", "clips", "fps"}
    # what the cameras' rules raise: a till exception is the manager's
    assert set(report["types"]) == {"cash", "violence", "fire", "tamper"}
    for score in report["types"].values():
        assert set(score) == {"tp", "fp", "fn", "tn", "precision", "recall", "accuracy"}
        assert score["tp"] + score["fp"] + score["fn"] + score["tn"] == 3
    assert report["types"]["violence"]["tp"] == 1
    assert report["types"]["violence"]["recall"] == 1.0
    assert [c["expected"] for c in report["clips"]] == [["violence"], [], []]
    assert report["clips"][2]["path"] == "bar.avi"
    assert all(set(c) == {"path", "expected", "detected"} for c in report["clips"])
    assert report["fps"] > 0
    assert "3/3" in captured.err  # the progress bar went to stderr


def test_unknown_event_type_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_test_video(tmp_path / "a.avi", seconds=0.5)
    labels = tmp_path / "labels.csv"
    labels.write_text("path,events\na.avi,robbery\n")
    assert main(["eval", str(labels)]) == 2
    err = capsys.readouterr().err
    assert "robbery" in err and "cash, violence, fire, tamper" in err and "labels.csv:2" in err


def test_missing_clip_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("path,events\nnope.mp4,\n")
    assert main(["eval", str(labels)]) == 2
    assert "nope.mp4" in capsys.readouterr().err


def test_a_file_that_is_not_a_video_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.mp4").write_text("not a video")
    labels = tmp_path / "labels.csv"
    settings = "[detection]\ncash = { enabled = false }\nviolence = { enabled = false }\n"
    (tmp_path / "fire_only.toml").write_text(settings)
    labels.write_text("path,events,camera\nnotes.mp4,,fire_only.toml\n")
    assert main(["eval", str(labels)]) == 2
    err = capsys.readouterr().err
    assert "OpenCV cannot open clip" in err and "notes.mp4" in err


def test_bad_camera_file_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_test_video(tmp_path / "a.avi", seconds=0.5)
    (tmp_path / "cam.toml").write_text("cooldwn_s = 3\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("path,events,camera\na.avi,,cam.toml\n")
    assert main(["eval", str(labels)]) == 2
    assert "cooldwn_s" in capsys.readouterr().err


def _walk_clip(path: Path, covered: tuple[float, float] | None, seconds: float = 40.0) -> Path:
    """The walking clip shrunk to 320 px, its lens covered between `covered` seconds."""
    source = cv2.VideoCapture(str(require_media("video/w1_indoor_people_one_by_one__intel.mp4")))
    fps = source.get(cv2.CAP_PROP_FPS) or 10.0
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 180))
    for index in range(round(seconds * fps)):
        ok, frame = source.read()
        assert ok, f"{index}: the walking clip is shorter than {seconds} s"
        frame = cv2.resize(frame, (320, 180), interpolation=cv2.INTER_AREA)
        if covered and covered[0] <= index / fps < covered[1]:
            frame = cover(frame, index)
        writer.write(frame)
    writer.release()
    source.release()
    return path


@pytest.mark.media
def test_a_covered_camera_is_scored_as_tamper(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _walk_clip(tmp_path / "covered.avi", covered=(15.0, 35.0))
    _walk_clip(tmp_path / "plain.avi", covered=None)
    (tmp_path / "no_people.toml").write_text(
        "[detection]\ncash = { enabled = false }\nviolence = { enabled = false }\n"
    )
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "path,events,camera\ncovered.avi,tamper,no_people.toml\nplain.avi,,no_people.toml\n"
    )
    assert main(["eval", str(labels), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["types"]["tamper"] == {
        "tp": 1,
        "fp": 0,
        "fn": 0,
        "tn": 1,
        "precision": 1.0,
        "recall": 1.0,
        "accuracy": 1.0,
    }
    assert [c["detected"] for c in report["clips"]] == [["tamper"], []]
