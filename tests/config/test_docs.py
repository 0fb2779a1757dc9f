from pathlib import Path

from cashwatch.config.docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_reference_is_current() -> None:
    assert DOC.read_text() == render(), \
        "docs/configuration.md is stale: run python -m cashwatch.config.docs docs/configuration.md"
    assert "`[cameras.zones]`" in DOC.read_text()
