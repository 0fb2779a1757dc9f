"""Running camera workers on a Ray cluster, and where their evidence goes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from cashwatch.config.base import StrictModel


class RayConfig(StrictModel):
    """Placement of camera workers when the manager runs with `--ray`."""

    site_label: str = Field(
        default="cashwatch-site",
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$",
        title="Site node label",
        description="Node label naming a branch's node: `ray start "
        "--labels cashwatch-site=lobby` runs the lobby's cameras.",
    )
    site_placement: Literal["prefer", "require", "off"] = Field(
        default="prefer",
        title="Site placement",
        description="prefer: on the site's node while it is up, elsewhere when it is lost; "
        "require: only on the site's node (a lost node's cameras wait for it); "
        "off: anywhere with room.",
    )
    cpus_per_camera: float = Field(
        default=1.0,
        gt=0.0,
        le=64.0,
        title="CPUs per camera",
        description="Ray CPUs an actor asks for (num_cpus).",
    )
    gpus_per_camera: float = Field(
        default=1.0,
        gt=0.0,
        le=8.0,
        title="GPUs per camera",
        description="Ray GPUs an actor asks for when the model "
        "runs on a CUDA device (torch backend); fractions share.",
    )
    require_token: bool = Field(
        default=True,
        title="Require Ray token authentication",
        description="The manager joins a Ray cluster only with token authentication on "
        "(RAY_AUTH_MODE=token in its environment; docs/deployment.md): without it anyone "
        "who reaches the head's port runs code on every node. false: only for a cluster "
        "on one machine, or on a network nobody else reaches.",
    )


class StorageConfig(StrictModel):
    """Where workers write clips and snapshots."""

    url: str = Field(
        default="",
        title="Evidence location",
        description="Empty: the data folder (one machine). Otherwise a folder "
        "every node reaches: an absolute path (NFS) or an fsspec URL "
        "(file:///mnt/evidence, s3://bucket/cashwatch).",
    )

    @field_validator("url", mode="before")
    @classmethod
    def _known_location(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        url = value.strip().rstrip("/")
        if not url or url.startswith("/"):
            return url
        protocol, sep, rest = url.partition("://")
        if not sep or not rest:
            raise ValueError(
                f"storage url {value!r} is neither an absolute path nor a URL "
                "like file:///mnt/evidence or s3://bucket/prefix"
            )
        from fsspec.registry import known_implementations, registry

        if protocol not in known_implementations and protocol not in registry:
            raise ValueError(
                f"storage url {value!r}: unknown protocol {protocol!r}; fsspec "
                f"knows e.g. file, s3, gcs, abfs, sftp"
            )
        return url
