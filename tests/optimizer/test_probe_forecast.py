"""The projection that stops a probing pass which cannot end before the deadline."""

from __future__ import annotations

import math

import pytest

from siting.optimizer import probe_forecast as pf
from siting.optimizer.probe_forecast import PassForecast


def _feed(forecast: PassForecast, samples: list[tuple[float, int]]) -> list[bool]:
    return [forecast.outlasts(t, r) for t, r in samples]


def test_a_steady_pass_far_from_its_deadline_goes_on() -> None:
    """10 probes a second, 1,000 to make, 1,000 s left: it ends in 100 s."""
    f = PassForecast(0.0, 1_000.0, 1_000)
    assert _feed(f, [(t, 1_000 - 10 * int(t)) for t in range(10, 90, 10)]) == [False] * 8


def test_a_pass_that_would_need_far_more_than_the_time_left_stops() -> None:
    """usa13509, p = 2,000: about 10 probes a second, 13,234 to make, 340 s left. It is judged
    once it has run a quarter of that (85 s), and stopped then."""
    f = PassForecast(0.0, 340.0, 13_234)
    got = _feed(f, [(t, 13_234 - 10 * t) for t in range(10, 100, 10)])
    first = got.index(True)
    assert first == 8  # t = 90 s, the first sample past 0.25 * 340 = 85 s
    assert not any(got[:first])


def test_a_pass_that_speeds_up_as_the_refreshes_close_sites_goes_on() -> None:
    """pcb3038, p = 20 with a 300 s limit (222.6 s left at the pass start): slow at first, then the
    LP re-solves close hundreds of sites at once, and the pass ends after 88 s. The samples are the
    free sites left at each progress line of that run."""
    f = PassForecast(0.0, 222.6, 880)
    samples = [(11, 822), (21, 772), (32, 745), (42, 695), (57, 623), (67, 549), (77, 273), (88, 83)]
    assert _feed(f, samples) == [False] * len(samples)


def test_nothing_is_judged_before_the_minimum_share_of_the_pass() -> None:
    f = PassForecast(0.0, 100.0, 1_000)
    assert f.outlasts(pf.PASS_MIN_SHARE * 100.0 - 1.0, 1_000) is False
    assert f.outlasts(pf.PASS_MIN_SHARE * 100.0 + 1.0, 1_000) is True  # nothing moved: it cannot finish


def test_without_a_deadline_or_work_left_a_pass_always_goes_on() -> None:
    assert PassForecast(0.0, math.inf, 100).outlasts(1e6, 100) is False
    f = PassForecast(0.0, 10.0, 100)
    assert f.outlasts(9.0, 0) is False


@pytest.mark.parametrize("now,remaining,expected", [(40.0, 600, 10.0), (80.0, 200, 10.0)])
def test_the_pace_is_that_of_the_later_half(now: float, remaining: int, expected: float) -> None:
    """Samples at 0 (1,000 left), 20 s (800) and 40 s (600): at 40 s the later half starts at the
    20 s sample; at 80 s at the 40 s one."""
    f = PassForecast(0.0, 1e6, 1_000)
    f.outlasts(20.0, 800)
    if now > 40.0:
        f.outlasts(40.0, 600)
    assert f.pace(now, remaining) == pytest.approx(expected)
