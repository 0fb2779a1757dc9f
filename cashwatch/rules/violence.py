"""Violence: two people close together, moving violently, for a while.

`ViolenceRule` runs the method a camera's config names:

- `verified` (the default): a trigger on poses names candidates, a learned verifier
  scores the video around them (`violence_verified.py`); the pose method decides while
  the verifier is unavailable;
- `pose`: the limb-speed rule (`violence_pose.py`);
- `learned`: a score fitted on labelled fight clips (`violence_learned.py`).
"""

from __future__ import annotations

import functools
from typing import ClassVar

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.events import DetectedEvent, EventType
from cashwatch.core.observation import Observation
from cashwatch.core.poses import Poses
from cashwatch.core.spans import Subject
from cashwatch.rules.violence_learned import LearnedViolenceRule
from cashwatch.rules.violence_model import ViolenceModel, load_violence_model
from cashwatch.rules.violence_pose import PoseViolenceRule, violence_confidence
from cashwatch.rules.violence_verified import VerifiedViolenceRule, VideoVerifier
from cashwatch.rules.violence_verifier_model import (
    VerifierModel,
    VerifierModelError,
    load_verifier_model,
)

__all__ = ["PoseViolenceRule", "ViolenceRule", "violence_confidence"]


class ViolenceRule:
    """Fed one camera's observations (`observe`, or `update` with poses); returns violence events.

    Args:
        config: the camera's violence settings; `config.method` picks the rule.
        model: the learned model's parameters (default: the shipped ones); only read for
            the learned method.
        verifier: what turns a candidate's frames into video features; only used by the
            verified method (None: the pose method decides, and `fallback_reason` says so).
        verifier_model: the verifier's parameters (default: the shipped ones); only read
            for the verified method.
    """

    event_type: ClassVar[EventType] = "violence"
    uses_poses: ClassVar[bool] = True

    def __init__(
        self,
        config: ViolenceRuleConfig,
        model: ViolenceModel | None = None,
        verifier: VideoVerifier | None = None,
        verifier_model: VerifierModel | None = None,
    ) -> None:
        self.config = config
        self.rule: PoseViolenceRule | LearnedViolenceRule | VerifiedViolenceRule
        if config.method == "verified":
            self.rule = verified_rule(config, verifier, verifier_model)
        elif config.method == "learned":
            self.rule = LearnedViolenceRule(config, model or shipped_violence_model())
        else:
            self.rule = PoseViolenceRule(config)

    @property
    def active(self) -> bool:
        """Whether the rule runs (enabled in the settings)."""
        return self.config.enabled

    @property
    def fallback_reason(self) -> str:
        """Why the verified method's pose fallback decides now; "" when it does not."""
        return self.rule.fallback_reason if isinstance(self.rule, VerifiedViolenceRule) else ""

    def source_cut(self) -> None:
        """The source was reopened: the verified method drops its frames (see `CutAware`)."""
        if isinstance(self.rule, VerifiedViolenceRule):
            self.rule.source_cut()

    def observe(self, observation: Observation) -> list[DetectedEvent]:
        """Measure the people the model found on this frame, if it looked.

        Speeds need fresh observations: fed the carried poses, the rule would divide the
        movement since the last look by the time since the last *carried* frame and see
        fast limbs where a person moved slowly (measured: 2 more false alarms on
        fightsurv). Cash, a distance, holds while nothing changes. The verified method
        sees every frame (its video ring) and measures speeds on fresh poses alike.

        Args:
            observation: the frame, its time and the people just found (None: no look).

        Returns:
            The violence events raised on this frame.
        """
        if isinstance(self.rule, VerifiedViolenceRule):
            return self.rule.observe(observation)
        if observation.fresh is None:
            return []
        return self.update(observation.fresh, observation.ts)

    def update(self, poses: Poses, ts: float) -> list[DetectedEvent]:
        """Measure the people of one fresh detection with the pose or learned method.

        Args:
            poses: The people just found, tracked, in pixels of the frame.
            ts: The detection's time, Unix seconds.

        Returns:
            The violence events raised on this detection (usually none).

        Raises:
            TypeError: For the verified method, which needs the frames: use `observe`.
        """
        if isinstance(self.rule, VerifiedViolenceRule):
            raise TypeError("the verified violence method needs the frames: call observe")
        return self.rule.update(poses, ts)

    def evidence_ts(self, subject: Subject) -> float | None:
        """When a pair, or a pair sharing one of its people, last met the method's condition.

        A pair sharing a person is the same fight after an identity swap, or with someone
        joining in.

        Args:
            subject: The pair of track ids, smaller first.

        Returns:
            The last evidence's time, Unix seconds; None when none is remembered.
        """
        if isinstance(self.rule, VerifiedViolenceRule):
            return self.rule.evidence_ts(subject)
        return self.rule.evidence.last(subject, shared_person=True)


def verified_rule(
    config: ViolenceRuleConfig, verifier: VideoVerifier | None, model: VerifierModel | None
) -> VerifiedViolenceRule:
    """The verified method's rule; the pose method decides while its parameters cannot be read.

    Args:
        config: The camera's violence settings.
        verifier: What turns frames into video features; None when this process has none.
        model: The verifier's parameters; None reads the shipped ones.

    Returns:
        The rule, its `fallback_reason` set when the parameters or the verifier are missing.
    """
    if model is not None:
        return VerifiedViolenceRule(config, model, verifier)
    try:
        return VerifiedViolenceRule(config, shipped_verifier_model(), verifier)
    except (VerifierModelError, OSError) as exc:  # a camera without the verifier still runs
        why = f"the verifier's parameters cannot be read: {exc}"
        return VerifiedViolenceRule(config, None, None, why_no_verifier=why)


@functools.cache
def shipped_violence_model() -> ViolenceModel:
    """The packaged parameters, read once per process.

    Returns:
        The learned violence score's parameters shipped with the package.
    """
    return load_violence_model()


@functools.cache
def shipped_verifier_model() -> VerifierModel:
    """The verifier's packaged parameters, read once per process (a failure is not cached).

    Returns:
        The verified method's parameters shipped with the package.
    """
    return load_verifier_model()
