"""Baselines of the memorization analysis at the generated policies' places, and their per-task rollouts."""
from __future__ import annotations

import numpy as np
import pytest

from maa_core.layout import PolicyLayout
from maa_generator.data import memorization as mem
from maa_generator.data import weight_alignment as wa
from maa_manip import memorization_eval as me

LAYOUT = PolicyLayout(obs_dim=5, action_dim=3, hidden=(16, 16), name="toy")


def _bank(rng) -> np.ndarray:
    """Two runs of 6 small steps each: ``[12, P]``."""
    rows = []
    for _ in range(2):
        x = rng.normal(0, 0.5, LAYOUT.num_params)
        for _ in range(6):
            x = x + rng.normal(0, 0.02, LAYOUT.num_params)
            rows.append(x.copy())
    return np.stack(rows).astype(np.float32)


@pytest.fixture(scope="module")
def analysed():
    rng = np.random.default_rng(0)
    bank = _bank(rng)
    replica = wa.permute_flat(bank[3], [rng.permutation(16), rng.permutation(16)], LAYOUT)
    midpoint = mem.average_of_nearest(bank, [2, 8], LAYOUT)
    generated = np.stack([replica, midpoint, rng.normal(0, 0.5, LAYOUT.num_params).astype(np.float32)])
    report = mem.analyze(generated, bank, LAYOUT, sample=None, prefilter=None, interp_candidates=12)
    return bank, generated, report


def test_baselines_sit_where_the_generated_policies_are(analysed):
    bank, generated, report = analysed
    base = me.baseline_policies(report, generated, bank, LAYOUT, seed=0)
    assert set(base) == set(me.BASELINES) and all(v.shape == generated.shape for v in base.values())
    np.testing.assert_array_equal(base["nearest"][0], bank[3])  # the permuted copy's nearest is its original
    for g in range(3):  # noise at exactly the generated policy's aligned distance from the nearest checkpoint
        assert np.linalg.norm(base["noise_matched"][g] - base["nearest"][g]) == pytest.approx(report.param_dist[g],
                                                                                             rel=1e-4)
    # the midpoint of two checkpoints is found on its segment: the interpolation baseline reproduces it
    assert wa.aligned_distance(generated[1], base["interpolation"][1], LAYOUT) < 0.05 * report.param_dist[1]
    again = me.baseline_policies(report, generated, bank, LAYOUT, seed=0)
    np.testing.assert_array_equal(again["noise_matched"], base["noise_matched"])


def test_rollout_success_groups_by_task():
    calls = []

    def evaluate(task, params):
        calls.append((task, len(params)))
        return np.repeat(params[:, :1] > 0, 4, axis=1)  # success iff the first parameter is positive

    policies = {"a": np.array([[1.0], [-1.0], [2.0]]), "b": np.array([[-1.0], [-1.0], [1.0]])}
    out = me.rollout_success(policies, ["reach", "push", "reach"], evaluate)
    assert out["a"].tolist() == [1.0, 0.0, 1.0] and out["b"].tolist() == [0.0, 0.0, 1.0]
    assert calls == [("reach", 2), ("push", 1), ("reach", 2), ("push", 1)]
    with pytest.raises(ValueError, match="2 policies for 3 tasks"):
        me.rollout_success({"a": np.zeros((2, 1))}, ["x", "y", "z"], evaluate)


def test_subset_and_split_summary(analysed):
    bank, _, report = analysed
    sub = me.subset_report(report, np.array([True, False, True]))
    assert len(sub.labels) == 2 and sub.labels[0] == "replica" and sub.labels[1] == "novel"
    np.testing.assert_array_equal(sub.bank_nn, report.bank_nn)
    assert sub.ratio == pytest.approx(mem.nn_param_distance_ratio(report.param_dist[[0, 2]], report.bank_nn))
    bank_tasks = ["reach"] * 6 + ["push"] * 6
    summary = me.split_summary(sub, {"generated": np.array([1.0, 0.0]), "nearest": np.array([1.0, 1.0])},
                               ["reach", "push"], bank_tasks)
    assert summary["success"] == {"generated": 0.5, "nearest": 1.0}
    assert summary["num_replica"] == 1 and summary["frac_novel"] == 0.5
    assert sum(summary["nearest_task_counts"].values()) == 2
    assert 0.0 <= summary["frac_nearest_from_prompt_task"] <= 1.0
