"""A buffered frame: its capture time and JPEG bytes.

A module of its own, importing nothing, because the clip encoder process
(`encoder_process`) reads these too and must not load OpenCV with `buffer`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BufferedFrame:
    """One kept frame; clips share these objects, the bytes are never copied."""

    ts: float
    jpeg: bytes
