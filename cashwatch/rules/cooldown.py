"""At most one event of a type per camera within the cooldown."""

from __future__ import annotations


class Cooldown:
    """Remembers when each event type last fired on one camera.

    Types are independent: a cash event does not hold back a fire event.

    Args:
        cooldown_s: The least time between two events of a type, seconds; 0 holds
            nothing back.

    Raises:
        ValueError: When `cooldown_s` is negative.

    >>> cooldown = Cooldown(15.0)
    >>> cooldown.allow("cash", 100.0), cooldown.allow("cash", 110.0), cooldown.allow("fire", 110.0)
    (True, False, True)
    >>> cooldown.allow("cash", 115.0)
    True
    """

    def __init__(self, cooldown_s: float) -> None:
        if cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {cooldown_s}")
        self.cooldown_s = cooldown_s
        self._last_ts: dict[str, float] = {}

    def allow(self, event_type: str, ts: float) -> bool:
        """Decide whether an event may fire, and remember it when it may.

        Args:
            event_type: The event's type.
            ts: The event's time, Unix seconds.

        Returns:
            False when an event of the type fired less than `cooldown_s` before `ts`;
            otherwise True, and `ts` becomes the type's last event.
        """
        last = self._last_ts.get(event_type)
        if last is not None and ts - last < self.cooldown_s:
            return False
        self._last_ts[event_type] = ts
        return True
