"""Camera credentials never travel inside the spec sent to Ray: the actor's node reads the
real source from its own files, and the camera still runs (a real HTTP camera on
loopback that is given a user and password, a real Ray cluster, a real manager)."""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashwatch.config import CameraConfig, ModelConfig
from cashwatch.worker.actor import EXIT_NO_CREDENTIALS, CameraActor
from cashwatch.worker.process import EXIT_CRASHED
from cashwatch.worker.spec import (
    SOURCES_FILE_ENV,
    CredentialsUnavailable,
    WorkerSpec,
    seal_source,
    unseal_source,
)
from tests.conftest import write_test_video
from tests.harness import NO_DETECTION, ManagerProcess, camera_entry, wait_for, write_config
from tests.ray.conftest import SITE_LABEL, RayTestCluster
from tests.support.http_folder import serve_folder

PASSWORD = "N0de/Pa@ss-71"  # '/' and '@': a naive masker shows part of it
# A camera that really runs: FFmpeg takes the last '@' before the first '/', so an
# unescaped '@' works, an unescaped '/' does not (it would be written %2F).
RUN_PASSWORD = "Ru@n-Pa55"
PIECES = (PASSWORD, "N0de", "Pa@ss-71", RUN_PASSWORD, "Ru@n", "n-Pa55")


def _leaked(data: bytes) -> list[str]:
    return [piece for piece in PIECES if piece.encode() in data]


def _spec(data_dir: Path, source: str, camera_id: str = "till") -> WorkerSpec:
    camera = CameraConfig.model_validate(
        {"id": camera_id, "source": source, "detection": NO_DETECTION, "pace": False}
    )
    return WorkerSpec(
        camera=camera.model_dump(mode="json"),
        model=ModelConfig().model_dump(mode="json"),
        data_dir=str(data_dir),
        slot=0,
        manager_pid=0,
        live_every_n=2,
        run_id="r1",
    )


@pytest.fixture
def http_camera(tmp_path: Path) -> Iterator[str]:
    """An HTTP video source on loopback; its URL without credentials."""
    folder = tmp_path / "www"
    folder.mkdir()
    write_test_video(folder / "till.avi", seconds=2.0)
    with serve_folder(folder) as base:
        yield f"{base.removeprefix('http://')}/till.avi"


def _secret_url(host_path: str = "10.0.0.9/live", password: str = PASSWORD) -> str:
    return f"http://admin:{password}@{host_path}"


def test_a_sealed_spec_pickles_without_the_password_and_a_plain_one_is_unchanged(
    tmp_path: Path,
) -> None:
    sealed = seal_source(_spec(tmp_path, _secret_url()), "/srv/cashwatch.toml")
    assert _leaked(pickle.dumps(sealed)) == []
    assert sealed.camera["source"] == "http://admin:***@10.0.0.9/live"
    assert sealed.source_on_node and sealed.config_path == "/srv/cashwatch.toml"
    plain = _spec(tmp_path, "demo:walk")
    assert seal_source(plain) is plain, "nothing secret: nothing for a node to look up"


def test_the_node_reads_the_source_from_the_config_in_the_data_folder(tmp_path: Path) -> None:
    write_config(tmp_path / "cashwatch.toml", [camera_entry("till", _secret_url())])
    spec = unseal_source(seal_source(_spec(tmp_path, _secret_url())))
    assert spec.camera["source"] == _secret_url() and not spec.source_on_node


def test_a_private_sources_file_comes_first_and_a_public_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path / "cashwatch.toml", [camera_entry("till", _secret_url())])
    secrets = tmp_path / "site-secrets.toml"
    other = f"http://admin:{PASSWORD}x@10.0.0.9/live"  # masks the same: the site's own
    secrets.write_text(f'[sources]\ntill = "{other}"\n')
    secrets.chmod(0o600)
    monkeypatch.setenv(SOURCES_FILE_ENV, str(secrets))
    sealed = seal_source(_spec(tmp_path, _secret_url()))
    assert unseal_source(sealed).camera["source"] == other
    secrets.chmod(0o644)  # anyone on the node could read it: not used, the config is
    assert unseal_source(sealed).camera["source"] == _secret_url()


def test_a_node_without_the_credentials_or_with_another_host_says_so_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASHWATCH_CONFIG", raising=False)
    monkeypatch.delenv(SOURCES_FILE_ENV, raising=False)
    sealed = seal_source(_spec(tmp_path, _secret_url()))
    with pytest.raises(CredentialsUnavailable, match="not on this node") as missing:
        unseal_source(sealed)
    assert str(tmp_path / "cashwatch.toml") in str(missing.value)
    write_config(tmp_path / "cashwatch.toml", [camera_entry("till", _secret_url("10.0.0.66/live"))])
    with pytest.raises(CredentialsUnavailable, match="make them the same") as other_host:
        unseal_source(sealed)
    assert "10.0.0.66" in str(other_host.value)
    assert _leaked(f"{missing.value} {other_host.value}".encode()) == []


def test_an_actor_without_credentials_reports_why_and_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASHWATCH_CONFIG", raising=False)
    monkeypatch.delenv(SOURCES_FILE_ENV, raising=False)
    actor = CameraActor(seal_source(_spec(tmp_path, _secret_url())), node="test-node")
    update, exit_code, _lines = actor.poll(0)
    assert exit_code == EXIT_NO_CREDENTIALS
    assert update.status.state == "error"
    assert "credentials are not on this node" in update.status.source_error
    assert actor.stop(timeout_s=5) == EXIT_NO_CREDENTIALS


def test_an_actor_whose_camera_cannot_start_says_why_masked_and_exits(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, _secret_url())
    # as a source error would: the worker refuses the camera, quoting the source
    broken = dataclasses.replace(
        spec, camera={**spec.camera, "source": spec.camera["source"] + " x"}
    )
    actor = CameraActor(broken, node="n")
    update, exit_code, _lines = actor.poll(0)
    assert exit_code == EXIT_CRASHED  # instead of an exception Ray prints unmasked
    assert update.status.state == "error" and "ValidationError" in update.status.source_error
    assert actor.stop(timeout_s=5) == EXIT_CRASHED
    output = capfd.readouterr()
    assert _leaked(f"{update.status.source_error} {output.out} {output.err}".encode()) == []


def test_an_actor_runs_a_camera_whose_source_it_read_on_its_node(
    tmp_path: Path, http_camera: str
) -> None:
    url = _secret_url(http_camera, RUN_PASSWORD)
    write_config(tmp_path / "cashwatch.toml", [camera_entry("till", url)])
    actor = CameraActor(seal_source(_spec(tmp_path, url)), node="n")
    try:
        wait_for(
            lambda: actor.poll(0)[0].status.state == "running",
            30,
            "the camera to run from the source its node read",
        )
    finally:
        assert actor.stop(timeout_s=10) == 0


@pytest.mark.slow
def test_a_ray_camera_with_credentials_runs_and_they_stay_out_of_ray_and_the_data_folder(
    ray_cluster: RayTestCluster, tmp_path: Path, http_camera: str
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = write_config(
        data_dir / "cashwatch.toml",
        [camera_entry("till", _secret_url(http_camera, RUN_PASSWORD), site="lobby")],
        ray={"site_label": SITE_LABEL, "site_placement": "require"},
    )
    with ManagerProcess(config, extra_args=("--ray", ray_cluster.address)) as manager:
        record = wait_for(
            lambda: (r := manager.workers().get("till")) and r["running"] and r,
            90,
            "the camera to run on the lobby's Ray node",
        )
        assert record["node"] == ray_cluster.node_name("lobby")
        assert _leaked(repr(manager.status()).encode()) == []
    leaks = [
        path
        for path in data_dir.rglob("*")
        if path.is_file() and path.name != "cashwatch.toml" and _leaked(path.read_bytes())
    ]
    session = Path(ray_cluster.cluster.head_node.get_session_dir_path())
    leaks += [
        path
        for path in session.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and os.access(path, os.R_OK)
        and _leaked(path.read_bytes())
    ]
    assert leaks == [], f"the password appears in {leaks}"
