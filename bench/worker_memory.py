"""`python -m bench.worker_memory`: #28's worker check with every rule at its default.

Three file cameras of one footage run for `--seconds`; then each camera worker's RSS,
its anonymous part (what the worker itself holds), PSS, whether PyAV is mapped, and
the events and clips written. Also how this kernel maps a shared library's pages: the
`RssFile` a process gains by touching one byte per MiB of a cached 64 MiB file (4 MiB
with 4 KiB pages and the usual fault-around; ~64 MiB where the page cache holds large
folios and a fault maps a whole one), which moves every RSS figure by tens of MiB.
"""

from __future__ import annotations

import argparse
import mmap
import os
import tempfile
import time
from pathlib import Path

import psutil

from bench.footage import MEDIA
from bench.product import share_model_cache
from tests.harness import ManagerProcess, camera_entry, db_events, wait_for, write_config

MIB = 2**20
FIGHT = "v1_fight_at_shop_counter__fightsurv_fi082.mp4"


def rss_file_per_touch_mib(size_mib: int = 64) -> float:
    """MiB of `RssFile` gained by touching one byte per MiB of a cached file."""
    with tempfile.NamedTemporaryFile() as blob:
        blob.write(os.urandom(size_mib * MIB))
        blob.flush()
        Path(blob.name).read_bytes()  # in the page cache, as a shared library would be
        before = _status_kib("RssFile")
        with mmap.mmap(blob.fileno(), 0, prot=mmap.PROT_READ) as mapped:
            for offset in range(0, size_mib * MIB, MIB):
                _ = mapped[offset]  # a read: the page fault maps what the kernel maps
            grown = _status_kib("RssFile") - before
    return grown / 1024 / size_mib


def _status_kib(field: str, pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=FIGHT, help=f"a file of {MEDIA}")
    parser.add_argument("--seconds", type=float, default=90.0)
    args = parser.parse_args()
    print(f"RssFile per MiB touched on this kernel: {rss_file_per_touch_mib():.2f} MiB")
    with tempfile.TemporaryDirectory(prefix="cashwatch-worker-memory-") as folder:
        data_dir = Path(folder)
        share_model_cache(data_dir)
        cameras = [camera_entry(f"c{i}", MEDIA / args.video) for i in range(3)]
        for camera in cameras:
            del camera["detection"]  # every rule at its default
        config = write_config(data_dir / "cashwatch.toml", cameras)
        with ManagerProcess(config) as manager:
            wait_for(
                lambda: sum(w["state"] == "running" for w in manager.workers().values()) == 3,
                300,
                "three cameras running",
            )
            wait_for(
                lambda: all(
                    time.time() - w["start_ts"] >= args.seconds for w in manager.workers().values()
                ),
                args.seconds + 60,
                f"{args.seconds:g} s of running",
            )
            events = db_events(data_dir)
            clips = sum(bool(event["clip_path"]) for event in events)
            print(f"events: {len(events)}, with a clip: {clips}")
            for camera_id, worker in sorted(manager.workers().items()):
                process = psutil.Process(worker["pid"])
                maps = Path(f"/proc/{process.pid}/maps").read_text()
                print(
                    f"{camera_id}: RSS {process.memory_info().rss / MIB:.0f} MiB "
                    f"(anonymous {_status_kib('RssAnon', process.pid) / 1024:.0f}), "
                    f"PSS {process.memory_full_info().pss / MIB:.0f} MiB, "
                    f"PyAV {'mapped' if '/av.libs/' in maps else 'not mapped'}"
                )


if __name__ == "__main__":
    main()
