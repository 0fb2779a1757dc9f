"""What the pipeline needs of a rule: fed one `Observation` a frame, it returns events.

The pipeline runs a list of rules alike (`cashwatch.rules.registry`): it feeds each the
observation, holds back repeats as the type table says (`cashwatch.core.event_types`),
and follows each event to its end through `evidence_ts` (`cashwatch.core.spans`).
Adding a rule is a rule module, its settings, and one line in the registry.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from cashwatch.core.events import DetectedEvent, EventType
from cashwatch.core.observation import Observation
from cashwatch.core.spans import Subject


class Rule(Protocol):
    """One camera's detector of one event type.

    Attributes:
        event_type: the type of every event it raises.
        uses_poses: whether it reads people (the pose model runs only for such rules).
    """

    event_type: ClassVar[EventType]
    uses_poses: ClassVar[bool]

    @property
    def active(self) -> bool:
        """Whether it can raise anything with its settings (enabled, zones drawn)."""
        ...

    def observe(self, observation: Observation) -> list[DetectedEvent]:
        """Take one sampled frame into account.

        Args:
            observation: the frame, its time and the people in it.

        Returns:
            The events raised on this frame (usually none).
        """
        ...

    def evidence_ts(self, subject: Subject) -> float | None:
        """When this rule last saw its evidence about a subject (what keeps an event going).

        Args:
            subject: The event's subject: the track ids it concerns, `()` for the frame.

        Returns:
            The last evidence's time, Unix seconds; None when the rule has none about it.
        """
        ...


@runtime_checkable
class CutAware(Protocol):
    """A rule that keeps recent frames, and must drop them when the source is reopened.

    A window spanning a looped file's end and start, or a reconnect, shows motion that
    never happened.
    """

    def source_cut(self) -> None:
        """Forget what was kept of the frames before the cut."""
        ...
