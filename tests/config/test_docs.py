from pathlib import Path

from cashwatch.config.docs import render
from cashwatch.config.loader import parse_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_reference_is_current() -> None:
    assert DOC.read_text() == render(), (
        "docs/configuration.md is stale: run python -m cashwatch.config.docs docs/configuration.md"
    )
    assert "`[cameras.zones]`" in DOC.read_text()


def test_the_reference_example_is_a_valid_config(tmp_path: Path) -> None:
    example = DOC.read_text().split("```toml\n", 1)[1].split("```", 1)[0]
    loaded = parse_config(example, tmp_path / "cashwatch.toml")
    assert loaded.camera_errors == {}
    assert loaded.camera("front-desk").zones.cashier is not None


def test_the_reference_states_each_bound() -> None:
    text = DOC.read_text()
    assert "| `imgsz` | `640` | ≥ 160, ≤ 1280 |" in text
    assert "| `backend` | `'auto'` | one of `auto`, `openvino`, `onnxruntime`, `torch` |" in text
    assert "## `[[cameras]]`" in text
