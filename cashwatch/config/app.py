"""The whole installation: global sections plus the cameras."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from cashwatch.config.alerts import AlertingConfig, AlertTarget, MetricsConfig
from cashwatch.config.base import StrictModel
from cashwatch.config.camera import CameraConfig
from cashwatch.config.cluster import RayConfig, StorageConfig
from cashwatch.config.detection import ModelConfig
from cashwatch.config.evidence import RetentionConfig
from cashwatch.config.till import TillConfig


class ManagerConfig(StrictModel):
    """Supervision of the camera workers."""

    heartbeat_timeout_s: float = Field(
        default=20.0,
        gt=1.0,
        le=600.0,
        title="Heartbeat timeout (s)",
        description="A worker silent this long is restarted.",
    )
    backoff_initial_s: float = Field(
        default=1.0,
        gt=0.0,
        le=60.0,
        title="First restart delay (s)",
        description="Delay before the first restart; doubles after.",
    )
    backoff_max_s: float = Field(
        default=60.0,
        gt=0.0,
        le=3600.0,
        title="Longest restart delay (s)",
        description="Restart delays never exceed this.",
    )
    max_restarts_per_minute: int = Field(
        default=5,
        ge=1,
        le=100,
        title="Restarts per minute",
        description="More crashes than this in a minute "
        "put the camera in error until the next backoff.",
    )
    stop_timeout_s: float = Field(
        default=10.0,
        gt=0.0,
        le=120.0,
        title="Stop timeout (s)",
        description="Time a worker gets to stop before it is killed.",
    )
    # A pinned worker cannot borrow another core, and what the cores carry changes after
    # the workers are placed (the verifier's video windows load the first inference
    # service's core): cashwatch.manager.balance moves one worker at a time.
    balance_every_s: float = Field(
        default=30.0,
        ge=0.0,
        le=3600.0,
        title="Core balancing period (s)",
        description="How often the manager measures the CPU cores and moves one camera "
        "worker to a core with more room, when that evens them out; 0 turns it off.",
    )
    # Every 2nd frame rather than the first design's every 4th: at 15 fps every 4th frame
    # means a viewer sees frames up to 267 ms old (p95 ~256 ms measured, target 250);
    # each extra publish is one 0.2 ms copy into shared memory.
    live_every_n: int = Field(
        default=2,
        ge=1,
        le=100,
        title="Live view every Nth frame",
        description="How often a worker publishes its frame for live view.",
    )
    max_cameras: int = Field(
        default=64,
        ge=1,
        le=1024,
        title="Camera slots",
        description="Size of the shared-memory status table.",
    )


class DashboardConfig(StrictModel):
    """Where the Streamlit dashboard listens."""

    host: str = Field(
        default="127.0.0.1",
        title="Listen address",
        description="Anything but localhost requires login.",
    )
    port: int = Field(default=8501, ge=1, le=65535, title="Port", description="")
    language: Literal["en", "ko"] = Field(
        default="en",
        title="Language",
        description="The dashboard's language (`en` English, `ko` 한국어) before sign-in and "
        "for accounts that have not chosen their own in the sidebar; also the language of "
        "alert texts whose target names none.",
    )
    require_login: bool = Field(
        default=False,
        title="Require login",
        description="Always ask for a login, also on localhost.",
    )
    remember_sign_in_hours: float = Field(
        default=12.0,
        ge=0,
        le=720,
        title="Stay signed in (hours)",
        description="How long a sign-in lasts, across page reloads too (a cookie the "
        "server can revoke); then the password is asked again. Signing out, or a password "
        "change, ends it in every tab. 0: no cookie, a reload asks for the password, "
        "and an open tab stays signed in until signed out (tabs signed in by a cookie "
        "before are signed out).",
    )
    public_url: str = Field(
        default="",
        title="Public address",
        description="The dashboard's address as people reach it (e.g. "
        "`https://cctv.hotel.example`); alerts then link to the event. Empty: no link.",
    )
    source_folders: list[Path] = Field(
        default_factory=list,
        title="Folders for video-file sources",
        description="The folders whose video files the Cameras page may test as a camera "
        "source (relative to the config file). Empty: the config file's folder. The data "
        "folder's clips, snapshots, database, journal and accounts are never allowed.",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"public_url {value!r} must start with http:// or https://")
        return value.rstrip("/")


class AppConfig(StrictModel):
    """Validated content of `cashwatch.toml`."""

    data_dir: Path | None = Field(
        default=None,
        title="Data folder",
        description="Database, clips, snapshots and models. "
        "Relative paths are relative to the config file; "
        "default: the folder holding the config.",
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    manager: ManagerConfig = Field(default_factory=ManagerConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    till: TillConfig = Field(default_factory=TillConfig)
    # validated one by one, like the cameras: a broken target is left out and said, the
    # others and the cameras run (cashwatch.config.loader)
    alerts: list[AlertTarget] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)
