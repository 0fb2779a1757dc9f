"""A clip encoded in a child process, so that no camera worker ever loads PyAV.

PyAV's FFmpeg and x264 libraries are ~17 MiB of a process's RSS and its heap grows
another 6-11 MiB while encoding; both stay once a clip was written, which took every
camera worker that had an event past the 150 MiB of #28. Here each clip is one short
child (`python -m cashwatch.evidence.encoder_process PATH FPS TRIGGER`) that imports
PyAV and nothing heavy (~41 MiB) and lives as long as its clip: a camera without
events has none. The worker streams it the buffer's JPEG bytes over a pipe as the clip
records; the child decodes them, encodes and writes the MP4 (`mp4.ClipEncoder`).

The child inherits the writing thread's core and lowered priority. An encoder that
crashes costs its clip, reported like any clip error, never the camera. A worker that
dies mid-clip closes the pipe: the child sees the end without a finish, drops its
temporary file and exits.

Pipe format, worker to child: records of `RECORD` (kind, capture time, length) and
the JPEG bytes; kind `F` a frame, `E` the end (no bytes). Child to worker: one JSON
line, the clip's stats or the error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from cashwatch.evidence.frame import BufferedFrame
from cashwatch.evidence.mp4 import ClipEncoder, ClipStats, temporary_path

RECORD = struct.Struct("<cdI")
FRAME, END = b"F", b"E"
FINISH_TIMEOUT_S = 120.0  # the end of a five-minute clip at superfast takes ~10 s
FAILED, ABANDONED = 2, 3  # the child's exit statuses (`main`)


class EncoderFailed(RuntimeError):
    """The encoder process could not write the clip; the message says why."""


class ClipEncoderProcess:
    """`mp4.ClipEncoder`'s interface (`add`, `finish`, `abort`), run in a child process.

    Args:
        path: Where the MP4 goes.
        fps: The clip's nominal rate.
        trigger_ts: The trigger frame's capture time, noted in the clip.

    >>> encoder = ClipEncoderProcess(path, fps=10.0, trigger_ts=ts)  # doctest: +SKIP
    >>> encoder.add(frames); encoder.finish().frames  # doctest: +SKIP
    300
    """

    def __init__(self, path: Path, fps: float, trigger_ts: float | None = None) -> None:
        self.path = path
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__, str(path), repr(fps), repr(trigger_ts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._child.pid

    def add(self, entries: Sequence[BufferedFrame]) -> None:
        """Send frames, in time order.

        Args:
            entries: The frames.

        Raises:
            EncoderFailed: The child stopped (its error, if it told one); it is gone and
                its temporary file too.
        """
        pipe = self._child.stdin
        assert pipe is not None
        try:
            for entry in entries:
                pipe.write(RECORD.pack(FRAME, entry.ts, len(entry.jpeg)))
                pipe.write(entry.jpeg)
            pipe.flush()
        except (BrokenPipeError, ValueError):  # ValueError: the pipe was closed
            error = str(self._outcome(timeout_s=5.0).get("error", ""))
            self.abort()
            raise EncoderFailed(error) from None
        except BaseException:  # e.g. a frame without a time: the clip goes, nothing stays
            self.abort()
            raise

    def finish(self) -> ClipStats:
        """Tell the end, wait for the clip to be written.

        Returns:
            The clip's stats.

        Raises:
            EncoderFailed: The clip was not written (the child's error).
        """
        pipe = self._child.stdin
        assert pipe is not None
        with contextlib.suppress(BrokenPipeError, ValueError):  # the outcome says why
            pipe.write(RECORD.pack(END, 0.0, 0))
            pipe.close()
        outcome = self._outcome(FINISH_TIMEOUT_S)
        if "error" in outcome:
            raise EncoderFailed(outcome["error"])
        return ClipStats(
            frames=int(outcome["frames"]),
            duration_s=float(outcome["duration_s"]),
            encode_s=float(outcome["encode_s"]),
            size_bytes=int(outcome["size_bytes"]),
        )

    def abort(self) -> None:
        """Stop the child; what it wrote goes."""
        with contextlib.suppress(OSError, ValueError):  # BrokenPipeError: it is gone
            assert self._child.stdin is not None
            self._child.stdin.close()  # the end without a finish: the child cleans up
        try:
            self._child.wait(5.0)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._close_stdout()
        self._drop_temporary()

    def _outcome(self, timeout_s: float) -> dict[str, Any]:
        """The child's JSON line once it exited (killed after `timeout_s`)."""
        try:
            self._child.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
            self._close_stdout()
            self._drop_temporary()
            return {"error": f"the clip encoder took more than {timeout_s:g} s; stopped"}
        assert self._child.stdout is not None
        line = self._child.stdout.read().decode(errors="replace").strip()
        self._close_stdout()
        try:
            outcome = json.loads(line.splitlines()[-1]) if line else {}
        except json.JSONDecodeError:
            outcome = {}
        if not isinstance(outcome, dict) or not outcome:
            self._drop_temporary()  # killed: it could not clean up
            return {"error": f"the clip encoder {_exit_cause(self._child.returncode)}"}
        return outcome

    def _drop_temporary(self) -> None:
        # The child removes it itself unless it was killed (a signal, the OOM killer)
        with contextlib.suppress(OSError):
            temporary_path(self.path).unlink(missing_ok=True)

    def _close_stdout(self) -> None:
        if self._child.stdout is not None:
            self._child.stdout.close()


def _exit_cause(code: int) -> str:
    """How a child that told nothing ended.

    >>> _exit_cause(-9), _exit_cause(1)
    ('was killed by SIGKILL', 'exited with 1 without telling why (its error is in the log)')
    """
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with {code} without telling why (its error is in the log)"


def _read_exact(pipe: BinaryIO, size: int) -> bytes | None:
    data = pipe.read(size)
    return data if len(data) == size else None


def serve(pipe: BinaryIO, encoder: ClipEncoder) -> ClipStats | None:
    """Encode what the pipe sends until its end record.

    Args:
        pipe: The worker's side of the stream.
        encoder: Where frames go.

    Returns:
        The clip's stats, or None when the pipe ended without an end record (the
        worker died; nothing was kept).
    """
    while (head := _read_exact(pipe, RECORD.size)) is not None:
        kind, ts, size = RECORD.unpack(head)
        if kind == END:
            return encoder.finish()
        jpeg = _read_exact(pipe, size)
        if jpeg is None:
            break
        encoder.add([BufferedFrame(ts, jpeg)])
    encoder.abort()
    return None


def main(argv: Sequence[str]) -> int:
    """The child: `PATH FPS TRIGGER` (TRIGGER `None` when untold).

    Args:
        argv: The arguments after the module's name.

    Returns:
        The exit status: 0 written, 2 failed (told), 3 abandoned by the worker or
        stopped by SIGTERM (nothing kept); 1 is Python's own, for an error not caught.
    """
    path, fps, trigger = argv
    # a stop of the whole process group (systemd stopping the service): drop the clip
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(ABANDONED))
    encoder = ClipEncoder(Path(path), float(fps), None if trigger == "None" else float(trigger))
    try:
        stats = serve(sys.stdin.buffer, encoder)
    except Exception as exc:  # told to the worker, which reports the clip's error
        encoder.abort()
        return _tell({"error": f"{type(exc).__name__}: {exc}"}, FAILED)
    except SystemExit:  # SIGTERM
        encoder.abort()
        return _tell({"error": "the clip encoder was stopped by SIGTERM"}, ABANDONED)
    if stats is None:
        return ABANDONED
    if _tell(asdict(stats), 0) != 0:  # the worker is gone: no one will report the clip
        with contextlib.suppress(OSError):
            Path(path).unlink(missing_ok=True)
        return ABANDONED
    return 0


def _tell(outcome: dict[str, Any], status: int) -> int:
    """Write the one line the worker reads; `ABANDONED` when it can no longer read."""
    try:
        print(json.dumps(outcome), flush=True)
    except OSError:  # BrokenPipeError: the worker is gone
        # and Python's flush of stdout at exit would fail again, noisily
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ABANDONED
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
