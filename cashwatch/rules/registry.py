"""Every rule a camera runs, in one list: adding a rule is one line here."""

from __future__ import annotations

from cashwatch.config.camera import CameraSettings
from cashwatch.core.rule import Rule
from cashwatch.rules.cash import CashHandoverRule
from cashwatch.rules.fire import FireConfirmer, FireRule
from cashwatch.rules.tamper import TamperRule
from cashwatch.rules.violence import ViolenceRule
from cashwatch.rules.violence_verified import VideoVerifier


def camera_rules(
    camera: CameraSettings,
    fire_confirmer: FireConfirmer | None,
    quiet_s: float,
    violence_verifier: VideoVerifier | None = None,
) -> list[Rule]:
    """One camera's rules, each fed every sampled frame.

    The order is the order in which a frame's events are listed before the cooldown sorts
    them by confidence (ties keep it), so it is part of what a camera raises.

    Args:
        camera: the camera's settings (rules, zones).
        fire_confirmer: optional second opinion for the fire rule.
        quiet_s: how long without evidence ends an event (`EventSpans.quiet_s`); an
            episode of tampering ends with it.
        violence_verifier: what turns a violence candidate's frames into video features
            (the verified method); None: the pose method decides in its place.

    Returns:
        The rules, one per event type.
    """
    detection = camera.detection
    return [
        FireRule(detection.fire, fire_confirmer),
        TamperRule(detection.tamper, episode_gap_s=quiet_s),
        CashHandoverRule(detection.cash, camera.zones),
        ViolenceRule(detection.violence, verifier=violence_verifier),
    ]
