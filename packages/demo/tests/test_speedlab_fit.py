"""Pure logic of the speed lab: the model fit, knob URLs, setting overrides, event parsing."""

from __future__ import annotations

import numpy as np
import pytest
from scrapy.settings import Settings

from scrapyfleet.crawler.speedlab.knobs import benchmark_url, index_pages
from scrapyfleet.demo.speedlab.fit import fit_model
from scrapyfleet.demo.speedlab.runner import parse_events


def book_grid(
    t_overhead: float, t_start_stop: float, noise: float, seed: int = 7
) -> tuple[list[float], list[float], list[float]]:
    rng = np.random.default_rng(seed)
    n, xs, trs, ts = 2000, [], [], []
    for t_response in (0.125, 0.25, 0.5):
        for cr in (8, 16, 32, 64):
            x = n / cr
            xs.append(x)
            trs.append(t_response)
            ts.append((t_overhead + t_response) * x + t_start_stop + rng.normal(0, noise))
    return xs, trs, ts


def test_fit_recovers_exact_parameters() -> None:
    fit = fit_model(*book_grid(0.006, 3.1, noise=0.0))
    assert fit.t_overhead == pytest.approx(0.006, abs=1e-9)
    assert fit.t_start_stop == pytest.approx(3.1, abs=1e-9)
    assert fit.rms_residual == pytest.approx(0.0, abs=1e-9)


def test_fit_recovers_parameters_from_noisy_points() -> None:
    fit = fit_model(*book_grid(0.006, 3.1, noise=0.1))
    assert fit.t_overhead == pytest.approx(0.006, abs=0.002)
    assert fit.t_start_stop == pytest.approx(3.1, abs=0.15)
    assert 0.02 < fit.rms_residual < 0.2
    assert fit.predict(100, 0.25) == pytest.approx((fit.t_overhead + 0.25) * 100 + fit.t_start_stop)


def test_fit_needs_two_distinct_loads() -> None:
    with pytest.raises(ValueError, match="two distinct"):
        fit_model([10, 10], [0.1, 0.2], [4.0, 5.0])


def test_benchmark_url_carries_only_the_knobs_set() -> None:
    settings = Settings(
        {
            "SPEED_SITE": "http://127.0.0.1:1234/",
            "SPEED_TOTAL_ITEMS": 5000,
            "SPEED_T_RESPONSE": 0.125,
            "SPEED_API_T_RESPONSE": 1,
            "SPEED_DETAIL_EXTRA_SIZE": 0,
        }
    )
    assert benchmark_url(settings) == "http://127.0.0.1:1234/ti:5000/ds:0/rr:0.125/ar:1/benchmark/"
    assert benchmark_url(Settings()) == "http://127.0.0.1:9312/benchmark/"


def test_index_pages_round_up() -> None:
    assert index_pages(1000, 20, 1) == 50
    assert index_pages(1001, 20, 1) == 51
    assert index_pages(1000, 20, 100) == 1


def test_malformed_event_lines_are_counted_and_skipped() -> None:
    events, malformed = parse_events(
        ['{"event": "a"}', "Traceback (most recent call last):", "[1]"]
    )
    assert events == [{"event": "a"}]
    assert malformed == 2
