"""`seal_source` sends a source to Ray in clear only when masking changes nothing: every
masking gap is a password in Ray's traffic and the head's actor table."""

from __future__ import annotations

import pytest

from cashwatch.worker.spec import WorkerSpec, seal_source

PASSWORD = "hunter2"


@pytest.mark.parametrize(
    "source",
    [
        "rtsp://admin:hunter2@10.0.0.5/live",
        "rtsp://admin:hun ter2@10.0.0.5/live",
        "rtsp://admin:hun\tter2@10.0.0.5/live",
        "rtsp://admin:hun\u00a0ter2@10.0.0.5/live",
        "http://cam/x#pwd=hunter2",
        "http://cam/x?api-key=hunter2",
        "http://cam/x?x-api-key=hunter2",
        "http://cam/x?pwd[]=hunter2",
        "http://cam/x?user.password=hunter2",
        "rtsp%3A%2F%2Fadmin%3Ahunter2%4010.0.0.5%2Flive",
        "rtsp:/admin:hunter2@10.0.0.9/live",
        "rtsp//admin:hunter2@host/x",
        "admin:hunter2@host/x",
    ],
)
def test_a_source_with_a_password_is_never_sent_in_clear(source: str) -> None:
    spec = WorkerSpec(
        camera={"id": "c", "source": source},
        model={},
        data_dir="/d",
        slot=0,
        manager_pid=0,
        live_every_n=1,
        run_id="r",
    )
    sealed = seal_source(spec)
    assert sealed.source_on_node
    assert not any(part in sealed.camera["source"] for part in ("hunter2", "hun", "ter2"))


def test_a_source_without_credentials_travels_whole() -> None:
    spec = WorkerSpec(
        camera={"id": "c", "source": "rtsp://10.0.0.5:554/live"},
        model={},
        data_dir="/d",
        slot=0,
        manager_pid=0,
        live_every_n=1,
        run_id="r",
    )
    assert seal_source(spec) is spec
