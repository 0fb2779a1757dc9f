"""A user's fire model in the first shared service (issue #28): real YOLO fire models
whose opinion is known (tests.support.fire_models), a real service loop, real sockets and
shared-memory slots, and the fire rule on the real fire clip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cashwatch.config.detection import FireRuleConfig
from cashwatch.core.events import DetectedEvent
from cashwatch.detect.backends.preprocess import letterbox
from cashwatch.detect.clips import sampled_frames
from cashwatch.detect.fire_model import FIRE_IMGSZ
from cashwatch.detect.model import BatchPoseModel
from cashwatch.inference.client import RemotePoseModel
from cashwatch.inference.fire_client import RemoteFireConfirmer
from cashwatch.inference.protocol import socket_path
from cashwatch.inference.server import FireModels
from cashwatch.inference.slots import InputSlot
from cashwatch.rules.fire import ConfirmerUnavailable, FireConfirmer, FireRule
from cashwatch.worker.service import ServiceSpec, _load_fire
from tests.conftest import require_media
from tests.inference.service_thread import ServiceThread

pytestmark = pytest.mark.media

FIRE_CLIP = "video/f3_dollhouse_fire_white_smoke__furg_house6.mp4"
FPS = 4.0


@pytest.fixture(scope="module")
def clip() -> list[tuple[np.ndarray, float]]:
    """The fire clip's first 14 s, sampled as a camera would (colour alone fires at ~8 s)."""
    frames = []
    for frame, ts in sampled_frames(require_media(FIRE_CLIP), FPS):
        if ts > 14.0:
            break
        frames.append((frame, ts))
    return frames


@pytest.fixture(scope="module")
def hosted(
    fire_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[FireModels, str]:
    """What the first service loads when the cameras name these models (and one that is
    not there)."""
    missing = str(tmp_path_factory.mktemp("nothing") / "gone.pt")
    spec = ServiceSpec(
        index=0,
        data_dir=str(tmp_path_factory.mktemp("data")),
        model={},
        socket_path="",
        run_id="run",
        manager_pid=0,
        threads=1,
        fire_models=(*(str(path) for path in fire_models.values()), missing),
    )
    return _load_fire(spec), missing


@pytest.fixture
def slot(tmp_path: Path) -> Iterator[InputSlot]:
    made = InputSlot.create(tmp_path, 0, 640)
    yield made
    made.close()


def first_event(rule: FireRule, clip: list[tuple[np.ndarray, float]]) -> DetectedEvent | None:
    for frame, ts in clip:
        if events := rule.update(frame, ts):
            return events[0]
    return None


def test_the_service_loads_each_named_model_once_and_keeps_why_others_failed(
    hosted: tuple[FireModels, str], fire_models: dict[str, Path]
) -> None:
    fire, missing = hosted
    assert sorted(fire.loaded) == sorted([str(fire_models["always"]), str(fire_models["never"])])
    no_class = fire.why_not(str(fire_models["no_fire"]), "inference-0")
    assert "has no fire/flame/smoke class; its classes: car, person" in no_class
    assert "do not exist" in fire.why_not(missing, "inference-0")
    assert "hosts no fire model /x.pt" in fire.why_not("/x.pt", "inference-0")


def test_the_service_answers_what_the_fire_model_says_in_process(
    tmp_path: Path,
    pose: BatchPoseModel,
    hosted: tuple[FireModels, str],
    fire_models: dict[str, Path],
    clip: list[tuple[np.ndarray, float]],
    slot: InputSlot,
) -> None:
    fire, missing = hosted
    frame = clip[-1][0]
    service = ServiceThread(tmp_path, pose, fire=fire)
    try:

        def remote(name: str | Path) -> RemoteFireConfirmer:
            weights = fire_models[name] if isinstance(name, str) else name
            return RemoteFireConfirmer(service.path, slot.name, weights, timeout_s=20.0)

        always = remote("always").confirm(frame)
        here = fire.loaded[str(fire_models["always"])].confirm(
            letterbox(frame, (FIRE_IMGSZ, FIRE_IMGSZ), auto=True)
        )
        assert always == pytest.approx(here, abs=1e-6) and always > 0.99
        assert remote("never").confirm(frame) == 0.0
        with pytest.raises(ConfirmerUnavailable, match="no fire/flame/smoke class"):
            remote("no_fire").confirm(frame)
        with pytest.raises(ConfirmerUnavailable, match="do not exist"):
            remote(Path(missing)).confirm(frame)
        # the camera's pose requests share the slot and the service, and are not held up
        people = RemotePoseModel([service.path], slot.name, 20.0, "waiting").predict(frame)
        assert len(people) == len(pose.predict(frame))
        assert "fire=always.pt" in service.latest().models
    finally:
        service.stop()


def test_the_fire_rule_waits_for_the_fire_model_to_agree(
    tmp_path: Path,
    pose: BatchPoseModel,
    hosted: tuple[FireModels, str],
    fire_models: dict[str, Path],
    clip: list[tuple[np.ndarray, float]],
    slot: InputSlot,
) -> None:
    colour_only = first_event(FireRule(FireRuleConfig()), clip)
    assert colour_only is not None, "the clip's flames raise fire on colour alone"
    assert "confirmer_score" not in colour_only.details
    service = ServiceThread(tmp_path, pose, fire=hosted[0])
    try:
        confirmers: dict[str, FireConfirmer] = {
            name: RemoteFireConfirmer(service.path, slot.name, fire_models[name], 20.0)
            for name in ("always", "never")
        }
        agreed = first_event(FireRule(FireRuleConfig(), confirmers["always"]), clip)
        assert agreed is not None and agreed.ts == colour_only.ts
        assert agreed.details["confirmer_score"] > 0.99
        # the model that never sees fire holds every due frame back, to the clip's 14th s
        assert first_event(FireRule(FireRuleConfig(), confirmers["never"]), clip) is None
    finally:
        service.stop()


def test_a_fire_model_that_cannot_answer_does_not_hold_the_fire_back(
    tmp_path: Path,
    fire_models: dict[str, Path],
    clip: list[tuple[np.ndarray, float]],
    slot: InputSlot,
) -> None:
    # no service listens: the camera's fire model is down (restarting, say)
    down = RemoteFireConfirmer(socket_path(tmp_path, 0), slot.name, fire_models["always"], 1.0)
    event = first_event(FireRule(FireRuleConfig(), down), clip)
    colour_only = first_event(FireRule(FireRuleConfig()), clip)
    assert event is not None and colour_only is not None and event.ts == colour_only.ts
    assert "inference-0 is down" in event.details["confirmer_error"]
    assert "confirmer_score" not in event.details
