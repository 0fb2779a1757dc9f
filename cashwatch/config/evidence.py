"""Clip, snapshot and retention settings."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from cashwatch.config.base import StrictModel
from cashwatch.i18n import N_


class ClipConfig(StrictModel):
    """Video kept around each event."""

    # the heading of its section in the Cameras form (a docstring cannot be marked; a
    # ClassVar, not model_config's title, which would rename the model in its errors)
    FORM_TITLE: ClassVar[str] = N_("Video kept around each event.")

    pre_seconds: float = Field(
        default=20.0,
        ge=0.0,
        le=120.0,
        title=N_("Pre-event (s)"),
        description=N_("Seconds of video kept before the trigger frame."),
    )
    post_seconds: float = Field(
        default=10.0,
        ge=0.0,
        le=120.0,
        title=N_("Post-event (s)"),
        description=N_(
            "Seconds of video recorded after the trigger, "
            "and after the event was last seen going on."
        ),
    )
    max_seconds: float = Field(
        default=120.0,
        ge=1.0,
        le=3600.0,
        title=N_("Longest clip (s)"),
        description=N_(
            "A clip follows a long incident to its end plus "
            "post_seconds, but runs at most this long in all (pre-event "
            "included; never less than pre_seconds + post_seconds); it is "
            "written as it is recorded, so its length costs disk, not "
            "memory."
        ),
    )
    fps: float = Field(
        default=10.0,
        gt=0.0,
        le=60.0,
        title=N_("Clip frame rate"),
        description=N_("Frames per second kept in the buffer and the clip."),
    )
    jpeg_quality: int = Field(
        default=75,
        ge=30,
        le=95,
        title=N_("Buffer JPEG quality"),
        description=N_("Quality of the compressed pre-event buffer."),
    )
    buffer_max_mb: float = Field(
        default=48.0,
        ge=1.0,
        le=1024.0,
        title=N_("Buffer memory cap (MB)"),
        description=N_(
            "Upper bound on the pre-event buffer's memory; "
            "the oldest frames go first when busy scenes exceed it."
        ),
    )


class RetentionConfig(StrictModel):
    """How long evidence files (clips and snapshots) are kept; events themselves never expire."""

    days: float = Field(
        default=30.0,
        gt=0.0,
        title="Keep for (days)",
        description="Clips and snapshots of events older than this are "
        "deleted. The event and its review stay in the history, marked "
        "with when the evidence expired.",
    )
    max_gb: float = Field(
        default=20.0,
        gt=0.0,
        title="Disk budget (GB)",
        description="Once clips and snapshots in the data folder exceed "
        "this, those of the oldest events are deleted first. The events "
        "and their reviews stay in the history.",
    )
    journal_days: float = Field(
        default=30.0,
        gt=0.0,
        title="Keep journals for (days)",
        description="Journal files are kept this long after the "
        "manager stored their events, so that `cashwatch db recover` "
        "can rebuild a damaged database from them; events older than "
        "this cannot be rebuilt. Journals are small: an event's line "
        "is a few hundred bytes.",
    )
