"""Matching cash hand-overs against the tills (`[till]`; a camera's `till_id`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from cashwatch.config.alerts import env_name, secret_value
from cashwatch.config.base import StrictModel


class TillConfig(StrictModel):
    """Where till transactions come in and how they are matched to cash hand-overs."""

    window_before_s: float = Field(
        default=60.0,
        ge=0.0,
        le=3600.0,
        title="Rung up before (s)",
        description="A transaction this long before a hand-over may be its payment.",
    )
    window_after_s: float = Field(
        default=120.0,
        ge=0.0,
        le=3600.0,
        title="Rung up after (s)",
        description="A transaction this long after a hand-over may be its payment; until "
        "then (plus the skew) the hand-over is `pending`, after it `unmatched`.",
    )
    max_skew_s: float = Field(
        default=30.0,
        ge=0.0,
        le=600.0,
        title="Till clock skew (s)",
        description="How far a till's clock may be off the cameras'; widens the window on "
        "both sides.",
    )
    exception_before_s: float = Field(
        default=30.0,
        ge=0.0,
        le=600.0,
        title="Refund: nobody before (s)",
        description="A refund or no-sale is a till exception when no camera on its till "
        "saw a customer or a hand-over from this long before it was rung up ...",
    )
    exception_after_s: float = Field(
        default=10.0,
        ge=0.0,
        le=600.0,
        title="Refund: nobody after (s)",
        description="... to this long after (both widened by the clock skew), while at "
        "least one of those cameras watched the whole time.",
    )
    inbox: Path = Field(
        default=Path("till/inbox"),
        title="Inbox folder",
        description="CSV files (till_id,at,amount,currency,kind,reference) dropped here "
        "are imported and moved to till/done/ (relative to the data folder).",
    )
    demo_tills: list[str] = Field(
        default_factory=list,
        title="Demo tills",
        description="Till ids the manager rings up itself, for the demo: two hand-overs "
        "in three get a sale 20 s later, the first and every third is 'forgotten'.",
    )
    token: SecretStr | None = Field(
        default=None,
        title="POST token",
        description="The Bearer token a till must send to POST /till/transactions on the "
        "manager's `[metrics]` port. None (and no token_env): that endpoint is off.",
    )
    token_env: str | None = Field(
        default=None,
        title="POST token variable",
        description="Name of an environment variable holding the token instead.",
    )

    @field_validator("token_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return env_name(value)

    def secret_token(self) -> str | None:
        """The token, or None when the endpoint is off (a variable named but unset too)."""
        try:
            return secret_value(self.token, self.token_env, "token", "[till]")
        except RuntimeError:
            return None
