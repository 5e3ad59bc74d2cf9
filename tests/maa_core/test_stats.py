import math

import pytest

from maa_core.stats import rate_interval, wilson_interval


def test_wilson_interval_matches_the_closed_form_and_contains_the_rate():
    lo, hi = wilson_interval(18, 20)
    # 18/20 at 95 %: the textbook Wilson interval is about [0.699, 0.972]
    assert lo == pytest.approx(0.6990, abs=1e-3) and hi == pytest.approx(0.9721, abs=1e-3)
    for k in range(21):
        lo, hi = wilson_interval(k, 20)
        assert 0.0 <= lo <= k / 20 <= hi <= 1.0


def test_wilson_interval_is_not_a_point_at_all_or_nothing_and_narrows_with_more_trials():
    lo20, hi20 = wilson_interval(20, 20)
    assert hi20 == pytest.approx(1.0) and lo20 < 0.85
    lo200, _ = wilson_interval(200, 200)
    assert lo20 < lo200 < 1.0
    _, hi0 = wilson_interval(0, 20)
    assert 0.1 < hi0 < 0.2


def test_rate_interval_rounds_the_rate_back_to_a_count():
    assert rate_interval(0.95, 20) == wilson_interval(19, 20)
    assert rate_interval(0.6666666, 48) == wilson_interval(32, 48)


@pytest.mark.parametrize("args", [(1, 0), (-1, 5), (6, 5), (1, 5, 0.0)])
def test_wilson_interval_rejects_impossible_counts(args):
    with pytest.raises(ValueError, match="wilson_interval"):
        wilson_interval(*args)


@pytest.mark.parametrize("rate", [-0.1, 1.5, math.nan])
def test_rate_interval_rejects_what_is_not_a_rate(rate):
    with pytest.raises(ValueError, match="rate in"):
        rate_interval(rate, 20)
