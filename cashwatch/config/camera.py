"""One camera: where its video comes from and how it is analysed."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from cashwatch.config.base import StrictModel
from cashwatch.config.detection import DetectionConfig
from cashwatch.config.evidence import ClipConfig
from cashwatch.config.zones import ZonesConfig
from cashwatch.i18n import N_
from cashwatch.util.redact import mask_credentials

CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
CAMERA_ID_RULE = "1 to 32 characters: letters, digits, '-' and '_', starting with a letter or digit"
TILL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
DEMO_SCENES = ("handover", "scuffle", "fire", "walk", "tamper")
_URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
# A "file" that is a URL typed wrong: `rtsp:/u:p@h` (one slash), `rtsp//u:p@h` (no colon),
# `u:p@h/x` or `//u:p@h` (no scheme). Taken for a path, it would be shown, logged and
# sent to Ray unmasked; refused instead. (Sources are Linux paths: no `C:/` drives.)
_MISTYPED_URL = re.compile(
    r"^(?:[A-Za-z][\w+.-]*:/(?!/)"  # scheme:/ without the second slash
    r"|(?:rtsps?|https?)//"  # a URL scheme without its colon
    r"|/{0,2}[^/\s:@]+:\S*@)",  # user:pass@host with no scheme
    re.IGNORECASE,
)


class CameraSettings(StrictModel):
    """Everything about a camera except who it is and where it reads from.

    This is also the format of the per-clip camera files used by `cashwatch eval`.
    """

    site: str = Field(
        default="default",
        min_length=1,
        max_length=64,
        title=N_("Site"),
        description=N_("Branch or area the camera belongs to."),
    )
    enabled: bool = Field(default=True, title=N_("Enabled"), description=N_("Run this camera."))
    cooldown_s: float = Field(
        default=15.0,
        ge=0.0,
        le=3600.0,
        title=N_("Event cooldown (s)"),
        description=N_("Minimum time between two events of one type."),
    )
    pace: bool = Field(
        default=True,
        title=N_("Pace file sources"),
        description=N_("Play files at their frame rate, like a live camera."),
    )
    open_timeout_s: float = Field(
        default=5.0,
        gt=0.0,
        le=60.0,
        title=N_("Open timeout (s)"),
        description=N_("How long opening a stream may take."),
    )
    read_timeout_s: float = Field(
        default=3.0,
        gt=0.0,
        le=60.0,
        title=N_("Read timeout (s)"),
        description=N_("A stream silent this long is reconnected."),
    )
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    clip: ClipConfig = Field(default_factory=ClipConfig)
    zones: ZonesConfig = Field(default_factory=ZonesConfig)


class CameraConfig(CameraSettings):
    """A `[[cameras]]` entry."""

    id: str = Field(
        title=N_("Camera id"),
        description=N_("Unique among the cameras."),
        json_schema_extra={"valid": CAMERA_ID_RULE},
    )
    name: str = Field(default="", max_length=80, title=N_("Name"), description=N_("Display name."))
    source: str = Field(
        min_length=1,
        title=N_("Source"),
        # the scenes written out, not joined from DEMO_SCENES: a message in the catalogue
        # is a literal (tests/config/test_models.py checks that it names every scene)
        description=N_(
            "rtsp://, http(s):// URL, a video file path (a relative one is relative "
            "to the config file), a webcam index (0, 1, …) "
            "or demo:<scene> with scene one of handover, scuffle, fire, walk, tamper. In a URL, "
            "write @, /, :, ? and # inside a user name or password percent-encoded (%40, %2F, "
            "%3A, %3F, %23), as in any URL: FFmpeg ends the host at the first / after ://."
        ),
    )

    till_id: str | None = Field(
        default=None,
        title=N_("Till"),
        description=N_(
            "The till (cash register, card terminal) this camera watches: its cash "
            "hand-overs are matched against that till's transactions ([till]). Several "
            "cameras may watch one till; a camera has one counter zone, so this is that "
            "counter's till. Its refunds and no-sales rung up with no customer in this "
            "camera's view become till exceptions. None: the hand-overs are `no_till`."
        ),
        json_schema_extra={"valid": "1-64 of letters, digits, _ . : -"},
    )

    @field_validator("till_id")
    @classmethod
    def _valid_till(cls, value: str | None) -> str | None:
        if value is not None and not TILL_ID.match(value):
            raise ValueError(
                "till_id: 1-64 letters, digits, _ . : -, starting with one of the first two"
            )
        return value

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        # checked here rather than with Field(pattern=…) so that the error says the rule
        # in words instead of quoting a regular expression
        if not is_valid_camera_id(value):
            raise ValueError(f"not a valid camera id; use {CAMERA_ID_RULE}")
        return value

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(
                "source is empty; give an rtsp:// or http(s):// URL, a video "
                "file path, a webcam index or demo:<scene>"
            )
        if value.startswith("demo:"):
            scene = value.removeprefix("demo:")
            if scene not in DEMO_SCENES:
                raise ValueError(f"unknown demo scene {scene!r}; valid: {', '.join(DEMO_SCENES)}")
        elif "://" in value and not value.lower().startswith(_URL_SCHEMES):
            raise ValueError(
                f"unsupported URL scheme in {mask_credentials(value.split('://')[0])!r}; "
                "valid: rtsp, rtsps, http, https, a file path, a webcam index or "
                "demo:<scene>"
            )
        elif "://" not in value and _MISTYPED_URL.match(value):
            # the value is not quoted: it may hold a password
            # (nor an example `user:pass@host`: error messages are masked as a whole)
            raise ValueError(
                "looks like a mistyped URL; a camera URL starts with rtsp://, "
                "rtsps://, http:// or https://, then the user name, ':', the "
                "password and '@' before the host"
            )
        elif "://" in value and any(char.isspace() for char in value):
            # A URL ends at whitespace, for cameras and for the masker alike: a password
            # with a space in it would be shown from the space on.
            raise ValueError(
                "a URL cannot contain spaces or other whitespace; "
                "percent-encode them (a space is %20)"
            )
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.id


def source_kind(source: str) -> str:
    """'rtsp', 'http', 'webcam', 'demo' or 'file'."""
    lowered = source.lower()
    if lowered.startswith(("rtsp://", "rtsps://")):
        return "rtsp"
    if lowered.startswith(("http://", "https://")):
        return "http"
    if lowered.startswith("demo:"):
        return "demo"
    if is_webcam_index(source):
        return "webcam"
    return "file"


def is_webcam_index(source: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts '²' or '①', which `int` refuses, and
    a reader that took them for a webcam crashed on them.

    >>> is_webcam_index(" 0 "), is_webcam_index("²"), is_webcam_index("١")
    (True, False, False)
    """
    stripped = source.strip()
    return stripped.isascii() and stripped.isdigit()


def is_valid_camera_id(value: str) -> bool:
    return re.fullmatch(CAMERA_ID_PATTERN, value) is not None
