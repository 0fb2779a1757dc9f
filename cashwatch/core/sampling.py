"""Turning a detection rate in frames per second into a stride over a source's frames.

Shared by the live worker and `cashwatch eval`, so offline figures describe exactly
what a live camera does.
"""

from __future__ import annotations


def detection_stride(source_fps: float, detect_fps: float) -> int:
    """Every how many frames of a source one is analysed.

    Args:
        source_fps: The source's frame rate, frames per second.
        detect_fps: The wanted detection rate, frames per second.

    Returns:
        The stride, the nearest whole ratio and at least 1.

    Raises:
        ValueError: When either rate is not positive.

    >>> detection_stride(15.0, 7.5)
    2
    >>> detection_stride(30.0, 7.5)
    4
    >>> detection_stride(5.0, 7.5)
    1
    """
    if source_fps <= 0 or detect_fps <= 0:
        raise ValueError(
            f"frame rates must be positive, got source={source_fps}, detect={detect_fps}"
        )
    return max(1, round(source_fps / detect_fps))
