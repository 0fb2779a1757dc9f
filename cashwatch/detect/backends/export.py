"""Export .pt pose weights to ONNX or OpenVINO with Ultralytics.

Run as `python -m cashwatch.detect.backends.export --weights W --format openvino
--imgsz 640 --out DIR --data-dir D`: it imports torch, which the manager must not.
The result in DIR is `model.onnx`, or `model.xml` + `model.bin` + `metadata.yaml`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

from cashwatch.detect.backends.choice import ExportFormat
from cashwatch.detect.offline import configure_offline, disable_ultralytics_sync
from cashwatch.util.orphan import exit_with_parent


def export_weights(weights: Path, fmt: ExportFormat, imgsz: int, out_dir: Path) -> None:
    """Export into `out_dir` (which must exist) with dynamic height/width.

    Dynamic shapes let the predictor pad only to a multiple of the stride instead of a
    square: a 16:9 frame costs 640x384 instead of 640x640 (FACTS.md: ~2x faster).

    Args:
        weights: The .pt pose weights; left untouched (a copy is exported).
        fmt: The format to export to.
        imgsz: The input size, pixels of the longest side.
        out_dir: An existing folder that receives model.onnx, or the OpenVINO files.
    """
    from ultralytics.models import YOLO  # heavy (torch); only in this subprocess

    disable_ultralytics_sync()
    # Ultralytics writes the export next to its input: work on a copy in out_dir so the
    # installed package (or the admin's weights folder) stays untouched.
    source = out_dir / "model.pt"
    shutil.copyfile(weights, source)
    with warnings.catch_warnings():
        # torch.jit.trace's deprecation, raised inside the exporter: nothing an admin
        # can act on, and the only lines a first run would otherwise print
        warnings.simplefilter("ignore", FutureWarning)
        exported = Path(
            YOLO(str(source), task="pose").export(
                format=fmt,
                dynamic=True,
                imgsz=imgsz,
                device="cpu",
                verbose=False,
            )
        )
    if fmt == "openvino":
        for item in exported.iterdir():
            item.rename(out_dir / item.name)
        exported.rmdir()
    source.unlink()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--format", choices=["onnx", "openvino"], required=True)
    parser.add_argument("--imgsz", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one export from the command line (the module docstring names the options).

    Args:
        argv: The arguments without the program name; None reads `sys.argv`.

    Returns:
        The exit status, 0; a failed export raises instead.
    """
    args = _parse_args(argv)
    exit_with_parent()  # a manager stopped mid-export takes its exporter with it
    configure_offline(args.data_dir)  # before ultralytics is imported
    # Ultralytics reads this at import: without it the console gets its banner, a
    # "ProTip", colour codes and usage hints for its own CLI; errors still print.
    os.environ["YOLO_VERBOSE"] = "False"
    started = time.monotonic()
    print(f"exporting {args.weights} to {args.format} at {args.imgsz} px…", file=sys.stderr)
    export_weights(args.weights, args.format, args.imgsz, args.out)
    print(f"export done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
