"""The file-source folder rule lives in the actions, so it holds for any caller, not
only for the Cameras form that happens to check first."""

from __future__ import annotations

from pathlib import Path

import pytest

from cashwatch.auth import LOCAL_ADMIN
from cashwatch.config import load_config
from cashwatch.dashboard import actions
from cashwatch.dashboard.session import PageContext
from cashwatch.dashboard.source_probe import SourceRefused
from tests.dashboard import builders


@pytest.fixture
def ctx(tmp_path: Path) -> PageContext:
    return PageContext(load_config(builders.config_with_media_and_evidence(tmp_path)), LOCAL_ADMIN)


def _cameras(ctx: PageContext) -> dict[str, str]:
    return {cid: cam.source for cid, cam in load_config(ctx.loaded.path).cameras.items()}


def test_adding_a_camera_on_evidence_is_refused_by_the_action(ctx: PageContext) -> None:
    before = _cameras(ctx)
    with pytest.raises(SourceRefused, match="outside the folders"):
        actions.add_camera(ctx, {"id": "cam-x", "source": "snapshots/2026-01-01/cam-b/evt.jpg"})
    assert _cameras(ctx) == before


def test_saving_a_camera_on_evidence_is_refused_by_the_action(ctx: PageContext) -> None:
    before = _cameras(ctx)
    camera = ctx.loaded.camera("cam-a").model_dump()
    camera["source"] = str(ctx.loaded.path.parent / "snapshots/2026-01-01/cam-b/evt.jpg")
    with pytest.raises(SourceRefused, match="outside the folders"):
        actions.save_camera(ctx, camera)
    assert _cameras(ctx) == before


def test_allowed_and_unchanged_sources_are_saved(ctx: PageContext) -> None:
    actions.add_camera(ctx, {"id": "cam-c", "source": "media/desk.avi"})
    camera = ctx.loaded.camera("cam-a").model_dump()
    camera["name"] = "Front desk"  # its source, already in the file, is kept as it is
    actions.save_camera(ctx, camera)
    assert load_config(ctx.loaded.path).camera("cam-a").name == "Front desk"
    assert "cam-c" in _cameras(ctx)
