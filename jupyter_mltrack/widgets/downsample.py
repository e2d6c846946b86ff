"""Shrinking a metric history before it leaves the kernel.

A chart a few hundred pixels wide cannot show 100,000 points, and sending them would stall the
browser. Keeping the minimum and the maximum of each bucket (rather than every n-th point) keeps
the spikes and dips a user looks for: the downsampled curve has the same extremes as the original.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MltrackError


def downsample(x: Any, y: Any, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of a curve: each bucket's minimum and maximum, in order.

    Parameters
    ----------
    x, y:
        Equal-length sequences; ``x`` in plotting order (a history is ordered by step).
    max_points:
        The most points to return (at least 2).

    Returns
    -------
    tuple of numpy arrays
        The kept ``x`` and ``y`` values; the input unchanged (as arrays) when it is short enough.
        NaN values are kept only where a bucket holds nothing else.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
        raise MltrackError(f"max_points must be an integer of at least 2, got {max_points!r}")
    xs, ys = np.asarray(x), np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape or ys.ndim != 1:
        raise MltrackError("x and y must be one-dimensional and of equal length")
    n = len(ys)
    if n <= max_points:
        return xs, ys
    buckets = max_points // 2
    size = -(-n // buckets)  # ceiling division: every point lands in a bucket
    buckets = -(-n // size)
    pad = buckets * size - n
    nan = np.isnan(ys)
    # NaN must lose both contests, and the padding of the last bucket must never win either
    low = np.concatenate([np.where(nan, np.inf, ys), np.full(pad, np.inf)]).reshape(buckets, size)
    high = np.concatenate([np.where(nan, -np.inf, ys), np.full(pad, -np.inf)])
    high = high.reshape(buckets, size)
    start = np.arange(buckets) * size
    keep = np.unique(np.concatenate([start + low.argmin(axis=1), start + high.argmax(axis=1)]))
    return xs[keep], ys[keep]
