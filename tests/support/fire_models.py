"""Real YOLO fire models for tests, built from Ultralytics' own yolo11n.yaml (no weights
exist that could be shipped or downloaded): random weights, except the class scores of
the detection head, set so the model's opinion is known.

- `always.pt` ("fire", "smoke"): every anchor scores ~1.0 for both classes;
- `never.pt` ("fire", "smoke"): every anchor scores ~0.0 (below predict's threshold);
- `no_fire.pt` ("person", "car"): a model without a fire class.

Built in a child process (`python -m tests.support.fire_models OUT`), so the test process
does not import torch; the pytest fixture `fire_models` caches them per run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MODELS = {
    "always": ({0: "fire", 1: "smoke"}, 12.0),
    "never": ({0: "fire", 1: "smoke"}, -12.0),
    "no_fire": ({0: "person", 1: "car"}, 12.0),
}


def build(out: Path) -> dict[str, Path]:
    """Build the three models under `out` in a child process (~10 s).

    Args:
        out: The folder they go to (made when missing).

    Returns:
        Each model's file by name.
    """
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / f"{name}.pt" for name in MODELS}
    if all(path.is_file() for path in files.values()):
        return files
    env = {
        **os.environ,
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "false",
        "YOLO_CONFIG_DIR": str(out / "ultralytics"),
    }
    subprocess.run(
        [sys.executable, "-m", "tests.support.fire_models", str(out)],
        check=True,
        env=env,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    return files


def _write(out: Path) -> None:
    import torch
    import ultralytics
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    for name, (names, bias) in MODELS.items():
        model = DetectionModel("yolo11n.yaml", nc=len(names), verbose=False)
        model.names = names
        for branch in model.model[-1].cv3:  # the head's class-score convolutions
            torch.nn.init.zeros_(branch[-1].weight)
            torch.nn.init.constant_(branch[-1].bias, bias)
        checkpoint = {"model": model.half(), "train_args": {}, "version": ultralytics.__version__}
        torch.save(checkpoint, out / f"{name}.pt.tmp")
        os.replace(out / f"{name}.pt.tmp", out / f"{name}.pt")


if __name__ == "__main__":
    _write(Path(sys.argv[1]))
