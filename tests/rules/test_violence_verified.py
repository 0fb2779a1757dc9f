"""The verified violence rule, frame by frame: a trigger on constructed poses, a verifier
that answers with features the test chooses, and the pose rule while it cannot answer."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.events import DetectedEvent
from cashwatch.core.observation import Observation
from cashwatch.core.poses import Poses
from cashwatch.rules.violence import ViolenceRule
from cashwatch.rules.violence_features import FEATURE_NAMES
from cashwatch.rules.violence_verified import (
    MIN_RING_FRAMES,
    NO_VERIFIER,
    RING_FRAMES,
    RING_LONG_SIDE,
    VERDICT_LIMIT_S,
    Verdict,
    VerifiedViolenceRule,
    VerifyRequest,
    ring_sizes,
)
from cashwatch.rules.violence_verifier_model import VIDEO_FEATURES, VerifierModel
from tests.rules.builders import poses_of, timestamps
from tests.rules.test_violence import SIZE, flailing

CONFIG = ViolenceRuleConfig()  # the default method is "verified"
FRAME_HW = (360, 640)
FIGHT, CALM = 5.0, -5.0  # the video feature the model reads: score 0.993 or 0.007


def video_model(threshold: float = 0.5) -> VerifierModel:
    """Scores sigmoid(video[0]): the test says through the verifier what the video shows."""
    n = VIDEO_FEATURES + len(FEATURE_NAMES)
    weights = np.zeros(n)
    weights[0] = 1.0
    return VerifierModel(np.zeros(n), np.ones(n), weights, 0.0, threshold)


class ChosenFeatures:
    """A `VideoVerifier` whose video features are the test's: `video[0] = value`.

    `busy` refuses requests; `error` answers each with that error; `hold` keeps the
    verdicts until `release`; otherwise it answers at once, like a verifier in-process.
    """

    def __init__(self, value: float = FIGHT) -> None:
        self.value = value
        self.busy = False
        self.error = ""
        self.hold = False
        self.requests: list[VerifyRequest] = []
        self._done: list[Verdict] = []
        self._held: list[Verdict] = []

    def submit(self, request: VerifyRequest) -> bool:
        if self.busy:
            return False
        self.requests.append(request)
        video = np.zeros(VIDEO_FEATURES, np.float32)
        video[0] = self.value
        verdict = Verdict(request, None, self.error) if self.error else Verdict(request, video)
        (self._held if self.hold else self._done).append(verdict)
        return True

    def release(self) -> None:
        self._done += self._held
        self._held = []

    def poll(self) -> list[Verdict]:
        done, self._done = self._done, []
        return done


def fighters(ts: float, amplitude: float = 0.8, gap_px: float = 0.0) -> Poses:
    a = flailing(200.0, ts, amplitude)
    b = flailing(200.0 + 1.4 * SIZE + gap_px, ts, amplitude, phase=1.0)
    return poses_of([(1, a), (2, b)])


def feed(
    rule: VerifiedViolenceRule | ViolenceRule,
    seconds: float,
    start: float = 0.0,
    people=fighters,
) -> list[DetectedEvent]:
    """Sampled frames at 7.5/s, the model looking at every one."""
    events = []
    for ts in timestamps(seconds, start=start):
        frame = np.full((*FRAME_HW, 3), int(ts * 10) % 255, np.uint8)
        poses = people(ts)
        events += rule.observe(Observation(ts, frame, poses, poses))
    return events


def verified(verifier: ChosenFeatures | None, **config: object) -> VerifiedViolenceRule:
    return VerifiedViolenceRule(CONFIG.model_copy(update=config), video_model(), verifier)


def test_a_fight_the_video_confirms_raises_one_verified_event() -> None:
    verifier = ChosenFeatures(FIGHT)
    rule = verified(verifier)
    events = feed(rule, seconds=6.0)
    assert len(events) == 1, "one event per episode"
    event = events[0]
    details = event.details
    assert details["method"] == "verified" and details["trigger"] in {"pair", "merged"}
    assert event.confidence == pytest.approx(1 / (1 + np.exp(-FIGHT)))
    assert details["score"] == round(event.confidence, 3)
    assert event.subject == (1, 2) and details["tracks"] == [1, 2]
    first = verifier.requests[0]
    assert details["candidate_ts"] == first.candidate.ts < event.ts
    assert event.bbox_xyxy == first.candidate.box
    assert rule.fallback_reason == "" and rule.evidence_ts((1, 2)) == pytest.approx(5.867, 0.01)


def test_the_request_carries_a_small_copy_of_the_last_sampled_frames() -> None:
    verifier = ChosenFeatures(CALM)
    rule = verified(verifier)
    feed(rule, seconds=4.0)
    first, last = verifier.requests[0], verifier.requests[-1]
    assert MIN_RING_FRAMES <= len(first.frames) <= RING_FRAMES
    assert len(last.frames) == RING_FRAMES
    scale = RING_LONG_SIDE / max(FRAME_HW)
    assert last.scale == pytest.approx(scale)
    assert last.frames[0].shape == (round(FRAME_HW[0] * scale), RING_LONG_SIDE, 3)
    # oldest first, and each a frame of its own (the ring never hands out a reused buffer)
    assert last.frames[0].mean() < last.frames[-1].mean()
    assert len({id(frame) for frame in last.frames}) == RING_FRAMES


def test_a_720p_ring_keeps_half_size_frames_and_the_verifier_finishes_the_shrink() -> None:
    # the ring's shrink runs on every sampled frame: by a whole factor (OpenCV's cheap
    # path); the rest of the way to RING_LONG_SIDE only for the frames a verifier reads
    verifier = ChosenFeatures(CALM)
    rule = verified(verifier)
    height, width = 720, 1280
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    scene = 128 + 60 * np.sin(cols / 7.0) * np.cos(rows / 11.0) + 0.05 * (cols - rows)
    for ts in timestamps(4.0):
        frame = np.repeat(np.clip(scene + ts, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        poses = fighters(ts)
        rule.observe(Observation(ts, frame, poses, poses))
    request = verifier.requests[-1]
    assert request.frames[0].shape == (360, 640, 3) and request.size == (480, 270)
    assert request.scale == pytest.approx(0.375)
    finished = request.window_frames()
    assert [f.shape for f in finished] == [(270, 480, 3)] * len(request.frames)
    direct = cv2.resize(frame, (480, 270), interpolation=cv2.INTER_AREA)
    assert np.abs(finished[-1].astype(int) - direct).mean() < 1.0  # grey levels of 255


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1280, 720, ((640, 360), (480, 270), 0.375)),
        (1920, 1080, ((480, 270), None, 0.25)),
        (3840, 2160, ((480, 270), None, 0.125)),
        (1366, 768, ((683, 384), (480, 270), 480 / 1366)),
        (1279, 720, ((480, 270), None, 480 / 1279)),  # no whole factor divides it
        (2688, 1520, ((672, 380), (480, 271), 480 / 2688)),  # 4 MP: 4 divides it, 5 not
        (1080, 1920, ((270, 480), None, 0.25)),  # portrait
        (960, 540, ((480, 270), None, 0.5)),
        (800, 600, ((480, 360), None, 0.6)),
        (640, 360, ((480, 270), None, 0.75)),
        (320, 240, ((320, 240), None, 1.0)),
    ],
)
def test_ring_sizes(width: int, height: int, expected: tuple[object, ...]) -> None:
    kept, final, scale = ring_sizes(width, height)
    assert (kept, final) == expected[:2]
    assert scale == pytest.approx(expected[2])


def test_candidates_the_video_does_not_confirm_raise_nothing() -> None:
    verifier = ChosenFeatures(CALM)
    rule = verified(verifier, verify_every_s=1.0)
    assert feed(rule, seconds=6.0) == []
    asked = [r.candidate.ts for r in verifier.requests]
    assert len(asked) >= 3, "each candidate episode is asked about again"
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(asked))
    assert rule.fallback_reason == ""


def test_people_standing_still_are_no_candidate() -> None:
    verifier = ChosenFeatures(FIGHT)
    rule = verified(verifier)
    assert feed(rule, seconds=4.0, people=lambda ts: fighters(ts, amplitude=0.0)) == []
    assert verifier.requests == []


@pytest.mark.parametrize(
    "people",
    [
        lambda ts: Poses.empty(),
        lambda ts: poses_of([(1, _unseen(flailing(200.0, ts, 0.8)))]),
        lambda ts: poses_of(
            [(1, _unseen(flailing(200.0, ts, 0.8))), (2, _unseen(flailing(260.0, ts, 0.8)))]
        ),
    ],
    ids=["nobody", "one-person-no-keypoints", "two-people-no-keypoints"],
)
def test_nobody_or_no_keypoints_raises_and_asks_nothing(people) -> None:
    verifier = ChosenFeatures(FIGHT)
    rule = verified(verifier)
    assert feed(rule, seconds=3.0, people=people) == []
    assert verifier.requests == []
    assert rule.fallback_reason == ""


def _unseen(keypoints: np.ndarray) -> np.ndarray:
    keypoints[:, 2] = 0.0
    return keypoints


def test_frames_without_a_fresh_look_fill_the_ring_only() -> None:
    verifier = ChosenFeatures(FIGHT)
    rule = verified(verifier)
    frame = np.zeros((*FRAME_HW, 3), np.uint8)
    for ts in timestamps(3.0):
        poses = fighters(ts)
        assert rule.observe(Observation(ts, frame, poses, None)) == []
    assert verifier.requests == []


def test_one_request_at_a_time_and_a_busy_verifier_skips_candidates() -> None:
    verifier = ChosenFeatures(FIGHT)
    verifier.hold = True
    rule = verified(verifier, verify_every_s=0.1)
    assert feed(rule, seconds=3.0) == []
    assert len(verifier.requests) == 1, "nothing more is sent while one is pending"
    verifier.release()
    events = feed(rule, seconds=0.2, start=3.0)
    assert [e.details["method"] for e in events] == ["verified"]

    busy = ChosenFeatures(FIGHT)
    busy.busy = True
    rule = verified(busy)
    assert feed(rule, seconds=3.0) == [] and busy.requests == []
    assert rule.fallback_reason == "", "busy is not down: the pose rule does not take over"
    busy.busy = False
    assert [e.details["method"] for e in feed(rule, seconds=1.5, start=3.0)] == ["verified"]


def test_a_new_episode_after_a_pause_raises_again() -> None:
    rule = verified(ChosenFeatures(FIGHT))
    assert len(feed(rule, seconds=3.0)) == 1
    assert feed(rule, seconds=4.0, start=3.0, people=lambda ts: Poses.empty()) == []
    assert len(feed(rule, seconds=3.0, start=7.0)) == 1


def test_without_a_verifier_the_pose_rule_decides_and_says_why() -> None:
    rule = verified(None)
    assert rule.fallback_reason == NO_VERIFIER
    events = feed(rule, seconds=3.0)
    assert len(events) == 1
    assert events[0].details["method"] == "pose"
    assert events[0].details["verifier"] == f"unavailable: {NO_VERIFIER}"
    assert verified(None, enabled=False).fallback_reason == "", "a rule switched off says nothing"


def test_a_verifier_error_hands_over_to_the_pose_rule_until_a_verdict_works_again() -> None:
    verifier = ChosenFeatures(FIGHT)
    verifier.error = "inference-0 is down (exited with SIGKILL)"
    rule = verified(verifier)
    events = feed(rule, seconds=3.0)
    assert rule.fallback_reason == verifier.error
    assert [e.details["method"] for e in events] == ["pose"]
    assert events[0].details["verifier"] == f"unavailable: {verifier.error}"
    # nobody in view: no candidate, no verdict, so the camera still says why
    assert feed(rule, seconds=4.0, start=3.0, people=lambda ts: Poses.empty()) == []
    assert rule.fallback_reason == verifier.error

    verifier.error = ""
    events = feed(rule, seconds=3.0, start=7.0)
    assert rule.fallback_reason == ""
    assert [e.details["method"] for e in events] == ["verified"], "the pose rule's is dropped"
    assert "verifier" not in events[0].details


def test_a_verifier_that_never_answers_counts_as_down() -> None:
    verifier = ChosenFeatures(FIGHT)
    verifier.hold = True
    rule = verified(verifier)
    feed(rule, seconds=3.0)
    assert rule.fallback_reason == ""
    feed(rule, seconds=VERDICT_LIMIT_S, start=3.0, people=lambda ts: Poses.empty())
    assert "no verdict" in rule.fallback_reason
    verifier.hold = False
    verifier.release()  # the late verdict of the request given up on changes nothing
    assert (
        feed(rule, seconds=0.2, start=3.0 + VERDICT_LIMIT_S, people=lambda ts: Poses.empty()) == []
    )
    assert "no verdict" in rule.fallback_reason
    assert [e.details["method"] for e in feed(rule, seconds=3.0, start=40.0)] == ["verified"]


def test_violence_rule_runs_the_verified_method_by_default() -> None:
    verifier = ChosenFeatures(FIGHT)
    rule = ViolenceRule(CONFIG, verifier=verifier, verifier_model=video_model())
    events = feed(rule, seconds=3.0)
    assert [e.details["method"] for e in events] == ["verified"]
    assert rule.fallback_reason == ""
    assert rule.evidence_ts(events[0].subject) is not None
    with pytest.raises(TypeError, match="observe"):
        rule.update(fighters(0.0), 0.0)
    alone = ViolenceRule(CONFIG, verifier_model=video_model())
    assert alone.fallback_reason == NO_VERIFIER
    assert ViolenceRule(ViolenceRuleConfig(method="pose")).fallback_reason == ""


def test_a_source_cut_starts_the_ring_again_so_no_window_spans_it() -> None:
    """A looped file or a reconnect: no window mixes frames from before and after."""
    verifier = ChosenFeatures(CALM)
    rule = verified(verifier)
    feed(rule, seconds=3.0)
    asked = len(verifier.requests)
    rule.source_cut()
    frames_after = timestamps(3.0, start=10.0)
    feed(rule, seconds=3.0, start=10.0)
    later = verifier.requests[asked:]
    assert later, "candidates go on being verified after the cut"
    # the oldest frame of the first window after the cut is the cut's first frame (feed()
    # paints ts*10 into each), and the window waited for MIN_RING_FRAMES new frames
    assert later[0].frames[0].mean() == pytest.approx(int(frames_after[0] * 10) % 255, abs=1)
    assert later[0].candidate.ts >= frames_after[MIN_RING_FRAMES - 1]


def test_a_fight_going_on_while_the_verifier_is_down_asks_again_to_learn_it_is_back() -> None:
    verifier = ChosenFeatures(FIGHT)
    verifier.error = "inference-0 is down (SIGKILL)"
    rule = verified(verifier)
    events = feed(rule, seconds=3.0)  # the pose rule decides: one event, the episode fired
    assert [e.details.get("verifier") for e in events] == ["unavailable: " + verifier.error]
    verifier.error = ""
    assert feed(rule, seconds=3.0, start=3.0) == [], "still the same episode: nothing new"
    assert rule.fallback_reason == "", "back, learned from a verdict asked in that episode"


def test_video_features_that_are_not_numbers_score_nothing() -> None:
    model = video_model()
    video = np.full(VIDEO_FEATURES, np.nan)
    assert model.score(video, np.zeros(len(model.mean) - VIDEO_FEATURES)) == 0.0
