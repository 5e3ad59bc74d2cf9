"""The Go2 screener maa_go2 registers for the generator (entry point ``maa.screeners``), with the real MuJoCo
evaluator."""
from __future__ import annotations

import numpy as np
import pytest

from maa_generator.screening import available_domains, make_screener
from maa_go2.actor_critic import go2_actor_layout
from maa_go2.screening import go2_score


def test_go2_screener_is_found_by_domain():
    assert "go2" in available_domains()


def test_go2_screener_scores_each_candidate(go2_adaptation_file):
    layout = go2_actor_layout()
    rng = np.random.default_rng(0)
    still = np.zeros(layout.num_params, np.float32)  # zero actor: holds the default pose, does not walk
    noisy = rng.normal(scale=0.5, size=layout.num_params).astype(np.float32)
    screen = make_screener("go2", seconds=1.5, adaptation_path=str(go2_adaptation_file), num_envs=3)
    scores = screen(layout, np.stack([still, noisy]), None)
    assert scores.shape == (2,) and np.isfinite(scores[0])
    assert scores[0] <= 1.0  # survival (<= 1) minus a non-negative tracking error


def test_score_and_errors():
    assert go2_score({"survival_rate": 1.0, "vx_error": 0.25}) == 0.75
    assert np.isnan(go2_score({"survival_rate": 1.0, "vx_error": float("nan")}))
    with pytest.raises(ValueError, match="adaptation module"):
        make_screener("go2")
    with pytest.raises(ValueError, match="no simulation screener"):
        make_screener("metaworld")
