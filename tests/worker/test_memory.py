"""Handing a worker's freed heap back to the kernel (real glibc, a real child process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

# 400 arrays of 100 KiB: below glibc's mmap threshold, so they live on the heap. All but
# the last are freed; the last pins the top of the heap, so plain free() cannot shrink it
# and only malloc_trim gives the ~40 MB of free pages in the middle back.
CHILD = """
import json, psutil
import numpy as np
from cashwatch.worker.memory import release_free_heap
rss = lambda: psutil.Process().memory_info().rss / 2**20
arrays = [np.ones(100 * 1024 // 8) for _ in range(400)]
del arrays[:-1]
before = rss()
released = release_free_heap()
print(json.dumps({"released": released, "before": before, "after": rss()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_heap_pages_go_back_to_the_kernel() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["released"] is True
    assert report["before"] - report["after"] > 20.0, report
