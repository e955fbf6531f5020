"""Watched ranges: their union, its length, and which points of a recording it covers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Reports a little apart (a skipped timeupdate, a seek of a frame) still join into one range.
JOIN_GAP_S = 1.0
RETENTION_POINTS = 21  # 0 %, 5 %, … 100 % of the duration


def union(ranges: Iterable[Sequence[float]]) -> list[list[float]]:
    merged: list[list[float]] = []
    for start, end in sorted((float(start), float(end)) for start, end in ranges):
        if end <= start:
            continue
        if merged and start <= merged[-1][1] + JOIN_GAP_S:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [[round(start, 2), round(end, 2)] for start, end in merged]


def length(ranges: Iterable[Sequence[float]]) -> float:
    return round(sum(end - start for start, end in ranges), 2)


def covers(ranges: Sequence[Sequence[float]], moment: float) -> bool:
    return any(start <= moment <= end for start, end in ranges)


def retention_points(duration_s: float) -> list[float]:
    """The instants of 0 %, 5 % … 100 %; the last one a second before the end, which players
    rarely report exactly."""
    step = duration_s / (RETENTION_POINTS - 1)
    points = [index * step for index in range(RETENTION_POINTS)]
    points[-1] = max(0.0, duration_s - 1.0)
    return points
