"""Where alerts go (`[[alerts]]`, one entry per target), how they are sent
(`[alerting]`) and the manager's Prometheus endpoint (`[metrics]`).

A target's secret (an SMTP or MQTT password, a webhook's signing key) is written in
the file or, better, named by an environment variable (`password_env`): either way it
is a `SecretStr`, so it never shows in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Literal, TypeVar

from pydantic import Field, SecretStr, field_validator

from cashwatch.config.base import StrictModel
from cashwatch.core.event_types import EVENT_TYPE_TABLE
from cashwatch.i18n import N_

# An alert of its own: a camera that lost its picture, or whose view is covered or
# turned away (its tamper event is sent as this type: to the guard both mean "this
# camera no longer watches"); routed like an event type.
CAMERA_DOWN = "camera_down"
TAMPER = "tamper"
# a cash hand-over the till matching found no sale for (`cashwatch.till.matching`)
CASH_UNMATCHED = "cash_unmatched"
ALERT_TYPES: tuple[str, ...] = (
    *(t for t in EVENT_TYPE_TABLE if t != TAMPER),
    CAMERA_DOWN,
    CASH_UNMATCHED,
)
# the languages alert texts are written in (cashwatch.i18n.LANGUAGES)
Language = Literal["en", "ko"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOPIC = re.compile(r"^[A-Za-z0-9_/-]{1,64}$")


class MissingSecret(RuntimeError):
    """A target names an environment variable for its secret that is not set."""


def secret_value(value: SecretStr | None, env: str | None, what: str, who: str) -> str | None:
    """The secret itself: written in the file, or read from the variable it names."""
    if value is not None:
        return value.get_secret_value()
    if env is None:
        return None
    found = os.environ.get(env)
    if found is None:
        raise MissingSecret(
            f"{who}: its {what} comes from the environment variable "
            f"{env}, which is not set in the manager's environment"
        )
    return found


def env_name(value: str | None) -> str | None:
    """A `*_env` value: the name of an environment variable, never quoted back (a
    secret typed there by mistake would leak into errors)."""
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(
            "must be the name of an environment variable (letters, digits and _, "
            "not starting with a digit), not its value"
        )
    return value


class AlertFilter(StrictModel):
    """Which events a target gets (every filter field narrows; empty lists mean all),
    and the language their texts are written in."""

    name: str = Field(
        title=N_("Name"),
        description="Names the target in `cashwatch alerts test NAME`, the System page, "
        "`cashwatch status` and the metrics. Lowercase letters, digits, - and _.",
        json_schema_extra={"valid": "1-40 of a-z 0-9 - _"},
    )
    types: list[str] = Field(
        default_factory=list,
        title="Types",
        description="Event types sent; empty: all. `camera_down` is a camera that lost "
        "its picture or whose view is tampered with (its tamper event); "
        "`cash_unmatched` a cash hand-over the till matching found no sale for (sent "
        "once its window closes, ~2.5 min after it).",
        json_schema_extra={"valid": "any of " + ", ".join(f"`{t}`" for t in ALERT_TYPES)},
    )
    sites: list[str] = Field(
        default_factory=list, title="Sites", description="Only these sites; empty: all."
    )
    cameras: list[str] = Field(
        default_factory=list, title="Cameras", description="Only these camera ids; empty: all."
    )
    min_confidence: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        title="Lowest confidence",
        description="Events below this confidence are not sent (camera_down always is).",
    )
    cooldown_s: float = Field(
        default=0.0,
        ge=0.0,
        le=86400.0,
        title="Cooldown (s)",
        description="After an alert, the same camera's further events of the same type "
        "are not sent to this target for this long (on top of the camera's own detection "
        "cooldown); 0: every event is sent. The end of an alert that was sent always is, "
        "and only that one's.",
    )
    language: Language | None = Field(
        default=None,
        title="Language",
        description="The language of this target's alert texts (`en` English, `ko` "
        "한국어): the e-mail's subject and text, the webhook's `text`, the names of the "
        "Home Assistant entities. Event types, ids and times in the JSON are the same in "
        "every language. Empty: the dashboard's `[dashboard] language`.",
        json_schema_extra={"valid": "one of `en`, `ko`"},
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"alert name {value!r} must be 1-40 lowercase letters, digits, - or _, "
                "starting with a letter or digit"
            )
        return value

    @field_validator("types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in ALERT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown alert type(s) {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(ALERT_TYPES)}"
            )
        return value

    # the subclasses' secret variables; checked here once for all of them
    @field_validator("secret_env", "password_env", check_fields=False)
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        return env_name(value)


class WebhookTarget(AlertFilter):
    """An HTTP(S) endpoint that gets each alert as one JSON POST, the snapshot inside."""

    kind: Literal["webhook"]
    url: SecretStr = Field(
        title="URL",
        description="http:// or https:// address the alerts are POSTed to (a secret: "
        "it may carry a token; masked everywhere).",
    )
    secret: SecretStr | None = Field(
        default=None,
        title="Signing key",
        description="When set, each request carries `X-CashWatch-Signature: "
        "sha256=<HMAC-SHA256 of the body>`, so the receiver can check it came from here.",
    )
    secret_env: str | None = Field(
        default=None,
        title="Signing key variable",
        description="Name of an environment variable holding the signing key instead.",
    )
    timeout_s: float = Field(
        default=10.0, gt=0.0, le=120.0, title="Timeout (s)", description="Per request."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("the webhook url must start with http:// or https://")
        return value

    def signing_key(self) -> str | None:
        return secret_value(
            self.secret, self.secret_env, "signing key", f"alert target {self.name!r}"
        )


class _LoginTarget(AlertFilter):
    """A target that may ask for a user and password (MQTT, SMTP)."""

    username: str | None = Field(default=None, title="User", description="")
    password: SecretStr | None = Field(default=None, title="Password", description="")
    password_env: str | None = Field(
        default=None,
        title="Password variable",
        description="Name of an environment variable holding the password instead.",
    )

    def secret_password(self) -> str | None:
        return secret_value(
            self.password, self.password_env, "password", f"alert target {self.name!r}"
        )


class MqttTarget(_LoginTarget):
    """An MQTT broker: events, per-camera ON/OFF and status, Home Assistant discovery."""

    kind: Literal["mqtt"]
    host: str = Field(title="Broker host", description="Name or address of the broker.")
    port: int = Field(default=1883, ge=1, le=65535, title="Broker port", description="")
    tls: bool = Field(default=False, title="TLS", description="Connect with TLS.")
    topic_prefix: str = Field(
        default="cashwatch",
        title="Topic prefix",
        description="Topics are PREFIX/events, PREFIX/<camera>/<type>, "
        "PREFIX/<camera>/snapshot, PREFIX/<camera>/status and PREFIX/available.",
        json_schema_extra={"valid": "1-64 of A-Z a-z 0-9 _ - /"},
    )
    discovery_prefix: str = Field(
        default="homeassistant",
        title="Home Assistant discovery prefix",
        description="Where discovery messages go; empty: none are sent.",
    )

    @field_validator("topic_prefix")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not _TOPIC.match(value) or value.startswith("/") or value.endswith("/"):
            raise ValueError(
                f"topic_prefix {value!r}: 1-64 letters, digits, _ - and inner /, "
                "no + or # (they are MQTT wildcards)"
            )
        return value


class EmailTarget(_LoginTarget):
    """An SMTP server: one mail per alert, the snapshot attached."""

    kind: Literal["email"]
    smtp_host: str = Field(title="SMTP host", description="")
    smtp_port: int = Field(default=587, ge=1, le=65535, title="SMTP port", description="")
    starttls: Literal["auto", "require", "off"] = Field(
        default="auto",
        title="STARTTLS",
        description="auto: when the server offers it (a server that does not gets no "
        "password: with a username set, nothing is sent); require: refuse to send without "
        "it; off: never (a password then goes in the clear).",
    )
    sender: str = Field(
        default="cashwatch@localhost", title="From", description="The mails' sender address."
    )
    to: list[str] = Field(min_length=1, title="To", description="Recipients.")
    timeout_s: float = Field(
        default=20.0, gt=0.0, le=120.0, title="Timeout (s)", description="Per mail."
    )

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if "@" not in a or any(c.isspace() for c in a)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(map(repr, bad))}")
        return value


_Target = TypeVar("_Target", bound=AlertFilter)


def with_language(target: _Target, default: Language) -> _Target:
    """`target` with its alert language filled in: its own, else `default` (the
    dashboard's `[dashboard] language`), so a sender needs nothing but its target.

    >>> with_language(AlertFilter(name="x"), "ko").language
    'ko'
    >>> with_language(AlertFilter(name="x", language="en"), "ko").language
    'en'
    """
    if target.language is not None:
        return target
    return target.model_copy(update={"language": default})


AlertTarget = Annotated[WebhookTarget | MqttTarget | EmailTarget, Field(discriminator="kind")]
TARGET_MODELS: dict[str, type[WebhookTarget | MqttTarget | EmailTarget]] = {
    "webhook": WebhookTarget,
    "mqtt": MqttTarget,
    "email": EmailTarget,
}


class AlertingConfig(StrictModel):
    """How the manager sends what the `[[alerts]]` targets get."""

    camera_down_after_s: float = Field(
        default=30.0,
        ge=1.0,
        le=3600.0,
        title="Camera down after (s)",
        description="A camera without a picture (reconnecting, in error) this long, or "
        "tampered with, raises a `camera_down` alert; its return ends it.",
    )
    retry_max_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        title="Longest retry delay (s)",
        description="A target that fails is retried after 1, 2, 4 … s, at most this long "
        "apart, until it takes the alert.",
    )
    failing_after: int = Field(
        default=5,
        ge=1,
        le=1000,
        title="Failing after (tries)",
        description="A target that failed this many times in a row is shown as failing "
        "(System page, `cashwatch status`, metrics); it keeps being retried.",
    )
    keep_hours: float = Field(
        default=72.0,
        gt=0.0,
        le=24.0 * 90,
        title="Keep unsent alerts (h)",
        description="An alert a target has not taken after this long is dropped (logged "
        "and counted in cashwatch_alerts_dropped_total): past that, it is news no one can "
        "act on.",
    )


class MetricsConfig(StrictModel):
    """The manager's Prometheus endpoint (`/metrics`)."""

    enabled: bool = Field(default=True, title="Serve metrics", description="")
    host: str = Field(
        default="127.0.0.1",
        title="Listen address",
        description="127.0.0.1 keeps it on this machine; 0.0.0.0 lets a Prometheus "
        "server elsewhere scrape it (metrics hold camera names and counts, no pictures).",
    )
    port: int = Field(default=9108, ge=1, le=65535, title="Port", description="")
