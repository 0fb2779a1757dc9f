"""glibc malloc settings for camera worker processes.

A worker allocates a 2.7 MB array for every 720p frame it decodes, on several threads
(reading, processing, clip encoding), and glibc gives each thread its own arena that
keeps freed memory. Two arenas are plenty for a process whose threads mostly wait.
Measured on the walking benchmark (2 cameras, gate off, 25-30 s windows): RSS 217 MiB
against 225-230 MiB, CPU per camera unchanged (0.476 vs 0.470).

Not a fixed mmap threshold, although it saves more memory (RSS ~210 MiB): every frame
then comes fresh from the kernel, zeroed and faulted in, and CPU per camera rose by
~12 % (0.533-0.590 against 0.475-0.514 in three interleaved pairs), which costs capacity.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

WORKER_MALLOC_TUNABLES = "glibc.malloc.arena_max=2"


def set_worker_malloc(environ: MutableMapping[str, str] | None = None) -> None:
    """Put the tunables in the environment workers are spawned with (glibc reads them at
    process start, so they must be set before the spawn); a value the user set wins."""
    env = os.environ if environ is None else environ
    env.setdefault("GLIBC_TUNABLES", WORKER_MALLOC_TUNABLES)
