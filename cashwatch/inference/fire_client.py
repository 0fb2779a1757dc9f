"""`RemoteFireConfirmer`: a camera's fire model, run by the first shared service.

The fire rule asks it only while flame colours persist, on the frame that would raise
the event, and waits for the answer (a 320-px detection, tens of milliseconds) up to
`[model] request_timeout_s`. The frame is letterboxed here and written into the camera's
input slot, as for a pose request: the camera's loop asks one model at a time, so the
slot holds one input at a time. No answer in time raises `ConfirmerUnavailable`, and the
rule raises the fire on its colour evidence alone, saying why (cashwatch.rules.fire).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cashwatch.detect.backends.preprocess import letterbox
from cashwatch.detect.fire_model import FIRE_IMGSZ
from cashwatch.inference.client import InferenceUnavailable, _Connection
from cashwatch.inference.protocol import FIRE, image_request
from cashwatch.inference.slots import InputSlot
from cashwatch.rules.fire import ConfirmerUnavailable


def _nothing_known() -> str:
    return ""


class RemoteFireConfirmer:
    """A `FireConfirmer` (cashwatch.rules.fire) in the service that hosts fire models.

    Args:
        socket_path: That service's socket.
        slot_name: This camera's input slot (made by the manager).
        weights: The fire model's absolute path, as the manager told the service.
        timeout_s: How long one answer may take.
        why_down: What the manager says of the service when it cannot be reached (its
            last exit), for the event's details; "" when nothing.
    """

    def __init__(
        self,
        socket_path: Path,
        slot_name: str,
        weights: Path,
        timeout_s: float,
        why_down: Callable[[], str] | None = None,
    ) -> None:
        self._slot = InputSlot.attach(slot_name)
        self._connection = _Connection(socket_path, why_down or _nothing_known)
        self._weights = str(weights)
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)

    def confirm(self, frame_bgr: np.ndarray) -> float:
        """Judge whether a frame shows fire, in the service.

        Args:
            frame_bgr: The whole HxWx3 uint8 BGR frame.

        Returns:
            The highest confidence, 0..1, of a fire, flame or smoke box; 0.0 when none.

        Raises:
            ConfirmerUnavailable: When the service did not answer in time, is down, or
                does not host this model (its answer says why).
        """
        deadline = time.time() + self._timeout_s
        image = letterbox(frame_bgr, (FIRE_IMGSZ, FIRE_IMGSZ), auto=True)
        header = image_request(
            next(self._ids),
            FIRE,
            self._slot.name,
            image,
            frame_bgr,
            deadline,
            weights=self._weights,
        )
        try:
            self._connection.open(deadline)
            self._slot.write(image)
            answer, _ = self._connection.ask(
                header, deadline, late=f"{self._timeout_s:g} s ([model] request_timeout_s)"
            )
            return float(answer["conf"])
        except InferenceUnavailable as exc:
            raise ConfirmerUnavailable(str(exc)) from exc
        except (KeyError, TypeError, ValueError) as exc:  # an answer without a score
            self._connection.close()
            raise ConfirmerUnavailable(f"{self._connection.path.stem}: {exc!r}") from exc

    def close(self) -> None:
        """Close the connection and detach from the slot."""
        self._connection.close()
        self._slot.close()
