"""`LocalVideoVerifier`: the violence verifier's video features, computed in this process.

For `cashwatch eval` (clips replayed unpaced, so waiting for the network costs no frames):
each request is answered synchronously in `submit`, and the next `poll` hands the verdict
to the rule. A live camera asks the first shared inference service instead
(`cashwatch.inference.video_client`), so its loop never waits ~0.4 s for the network.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from cashwatch.detect.video_features import prepare_window
from cashwatch.rules.violence_verified import Verdict, VerifyRequest


class VideoFeatures(Protocol):
    """The video model (`cashwatch.detect.video_features.VideoFeatureModel`)."""

    def features(self, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Describe one window.

        Args:
            window: (16, 224, 224, 3) uint8 RGB from `prepare_window`.

        Returns:
            The (1024,) features and the (400,) Kinetics logits, float32.
        """
        ...


class LocalVideoVerifier:
    """A `VideoVerifier` (cashwatch.rules.violence_verified) that runs the model in `submit`.

    Args:
        model: The loaded video model; it belongs to the caller (one for many clips).
    """

    def __init__(self, model: VideoFeatures) -> None:
        self.model = model
        self._done: list[Verdict] = []

    def submit(self, request: VerifyRequest) -> bool:
        """Compute the request's video features now.

        Args:
            request: The candidate and the ring's frames.

        Returns:
            Always True: it is never busy.
        """
        try:
            window = prepare_window(request.window_frames(), request.ring_box)
            features, _ = self.model.features(window)
        except ValueError as exc:  # frames or a box the window cannot be made of
            self._done.append(Verdict(request, None, f"cannot make the video window: {exc}"))
        except Exception as exc:  # the runtime failed: every request still gets its verdict
            self._done.append(Verdict(request, None, f"the video model failed: {exc}"))
        else:
            self._done.append(Verdict(request, features))
        return True

    def poll(self) -> list[Verdict]:
        """The verdicts of the requests submitted since the last call.

        Returns:
            Them, oldest first.
        """
        done, self._done = self._done, []
        return done
