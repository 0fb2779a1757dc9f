"""Which waiting requests the service runs together, and which it drops.

Pure functions over `Pending` requests, so the policy is tested without a service:
requests past their deadline are dropped (the camera has stopped waiting, so running
them would only delay the others: under a burst the service sheds the oldest instead
of falling behind); the rest run in batches of one model and one input shape, oldest
first, at most `max_batch` each.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pending:
    """A request read from a camera's connection, not yet answered.

    Attributes:
        client: The connection's number in the service.
        request_id: The camera's number for it, echoed in the answer.
        model: Which of the service's models ("pose").
        slot: The input slot's segment name.
        input_hw: The letterboxed input's (height, width), pixels.
        frame_hw: The frame's (or crop's) (height, width) it was made from.
        deadline: Wall time after which the camera no longer waits for it.
        received: Monotonic time it was read.
        weights: For a fire request, which fire model (its weights' path); "" otherwise.
    """

    client: int
    request_id: int
    model: str
    slot: str
    input_hw: tuple[int, int]
    frame_hw: tuple[int, int]
    deadline: float
    received: float
    weights: str = ""


def split_expired(pending: list[Pending], now: float) -> tuple[list[Pending], list[Pending]]:
    """(still wanted, past their deadline), each in arrival order.

    >>> a = Pending(0, 1, "pose", "s", (384, 640), (720, 1280), 10.0, 0.0)
    >>> b = Pending(1, 1, "pose", "s", (384, 640), (720, 1280), 20.0, 0.0)
    >>> [len(part) for part in split_expired([a, b], now=15.0)]
    [1, 1]
    """
    live = [p for p in pending if p.deadline > now]
    return live, [p for p in pending if p.deadline <= now]


def make_batches(pending: list[Pending], max_batch: int) -> list[list[Pending]]:
    """Group by (model, input shape), oldest group first, chunks of at most `max_batch`.

    >>> p = [Pending(i, 1, "pose", "s", hw, hw, 9.0, float(i))
    ...      for i, hw in enumerate([(384, 640), (320, 320), (384, 640)])]
    >>> [[x.client for x in batch] for batch in make_batches(p, 8)]
    [[0, 2], [1]]
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {max_batch}")
    groups: dict[tuple[str, tuple[int, int]], list[Pending]] = {}
    for request in sorted(pending, key=lambda p: p.received):
        groups.setdefault((request.model, request.input_hw), []).append(request)
    return [
        group[start : start + max_batch]
        for group in groups.values()
        for start in range(0, len(group), max_batch)
    ]
