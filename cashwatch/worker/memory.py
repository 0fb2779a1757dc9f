"""glibc malloc settings for camera worker processes.

A worker allocates a 2.7 MB array for every 720p frame it decodes, on several threads
(reading, processing, clip encoding), and glibc gives each thread its own arena that
keeps freed memory. Two arenas are plenty for a process whose threads mostly wait.
Measured on the walking benchmark (2 cameras, gate off, 25-30 s windows): RSS 217 MiB
against 225-230 MiB, CPU per camera unchanged (0.476 vs 0.470).

Not a fixed mmap threshold, although it saves more memory (RSS ~210 MiB): every frame
then comes fresh from the kernel, zeroed and faulted in, and CPU per camera rose by
~12 % (0.533-0.590 against 0.475-0.514 in three interleaved pairs), which costs capacity.
Instead the worker hands freed heap pages back every `TRIM_EVERY_S` (`malloc_trim`): with
the ONNX Runtime model on whole frames and crops, 166 → 147 MiB at the trim, regrowing to
~154 after one more inference and ~162 after 80.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable, Mapping, MutableMapping
from functools import cache

WORKER_MALLOC_TUNABLES = "glibc.malloc.arena_max=2"
# Often enough that a worker's RSS stays near its trimmed size between inferences; each
# trim costs ~2.4 ms (0.1 % of a core at this period) plus re-faulting what is reused.
TRIM_EVERY_S = 2.0


def worker_malloc_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a worker process must start with: the tunables, or the user's own.

    Ray actors get them through their `runtime_env`, local workers through the
    environment they are spawned with (`set_worker_malloc`).
    """
    env = os.environ if environ is None else environ
    return {"GLIBC_TUNABLES": env.get("GLIBC_TUNABLES", WORKER_MALLOC_TUNABLES)}


def set_worker_malloc(environ: MutableMapping[str, str] | None = None) -> None:
    """Put the tunables in the environment workers are spawned with (glibc reads them at
    process start, so they must be set before the spawn); a value the user set wins."""
    env = os.environ if environ is None else environ
    env.update(worker_malloc_env(env))


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def release_free_heap() -> bool:
    """Give the heap's free pages back to the kernel (glibc); False where there is no
    `malloc_trim` (musl, macOS), which is harmless: RSS is then just higher."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
