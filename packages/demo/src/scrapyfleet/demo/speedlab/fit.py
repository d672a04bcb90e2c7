"""The book's model of a crawl's duration, fitted by least squares.

`t_job = t_overhead * N/CR + t_response * N/CR + t_start/stop`, with N the requests and CR
`CONCURRENT_REQUESTS`. With t_response known for every run, `t_job - t_response * N/CR` is a
line in N/CR whose slope is t_overhead and whose intercept is t_start/stop.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Fit:
    t_overhead: float
    t_start_stop: float
    rms_residual: float

    def predict(self, n_over_cr: float, t_response: float) -> float:
        return (self.t_overhead + t_response) * n_over_cr + self.t_start_stop


def fit_model(
    n_over_cr: Sequence[float], t_response: Sequence[float], t_job: Sequence[float]
) -> Fit:
    """Least-squares t_overhead and t_start/stop from runs (needs two distinct N/CR values)."""
    x = np.asarray(n_over_cr, dtype=float)
    y = np.asarray(t_job, dtype=float) - np.asarray(t_response, dtype=float) * x
    if x.shape != y.shape or np.unique(x).size < 2:
        raise ValueError("need runs with at least two distinct N/CONCURRENT_REQUESTS values")
    design = np.column_stack([x, np.ones_like(x)])
    (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ np.array([slope, intercept])
    return Fit(float(slope), float(intercept), float(np.sqrt(np.mean(residual**2))))


# `speedlab grid` on this machine, idle, 2026-11-22 (docs/speedlab.md): the model's constants
# when no fit of one's own is at hand.
IDLE_FIT = Fit(t_overhead=0.0015, t_start_stop=2.9, rms_residual=0.27)


def load_fit(path: Path) -> tuple[Fit, str]:
    """The fit `speedlab grid` wrote to `path`, else IDLE_FIT; with where it came from.

    ValueError when `path` holds something else.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return IDLE_FIT, "the idle grid of 2026-11-22 (docs/speedlab.md)"
    try:
        data = json.loads(text)
        return Fit(**{name: float(data[name]) for name in Fit.__dataclass_fields__}), str(path)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a speedlab fit ({exc!r})") from None
