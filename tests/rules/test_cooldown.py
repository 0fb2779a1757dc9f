from __future__ import annotations

import pytest

from cashwatch.rules.cooldown import Cooldown


def test_cooldown_is_per_type_and_expires() -> None:
    cooldown = Cooldown(15.0)
    assert cooldown.allow("cash", 0.0)
    assert not cooldown.allow("cash", 14.9)
    assert cooldown.allow("violence", 1.0)
    assert cooldown.allow("fire", 1.0)
    assert cooldown.allow("cash", 15.0)
    assert not cooldown.allow("cash", 20.0)


def test_zero_cooldown_allows_every_event() -> None:
    cooldown = Cooldown(0.0)
    assert all(cooldown.allow("fire", 1.0) for _ in range(3))


def test_negative_cooldown_is_rejected() -> None:
    with pytest.raises(ValueError, match="cooldown_s"):
        Cooldown(-1.0)
