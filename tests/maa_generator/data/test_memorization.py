"""Memorization analysis: permutation alignment, nearest checkpoints, baselines, labels, report and plot."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from maa_core.layout import PolicyLayout
from maa_generator.data import memorization as mem
from maa_generator.data import weight_alignment as wa

LAYOUT = PolicyLayout(obs_dim=5, action_dim=3, hidden=(16, 16), activation="relu", output="linear", name="toy")
P = LAYOUT.num_params
STEP = 0.02  # per-parameter std of one "training step" inside a run


def _net(rng, layout=LAYOUT) -> np.ndarray:
    return rng.normal(0.0, 0.5, layout.num_params).astype(np.float32)


def _shuffled(flat, rng, layout=LAYOUT) -> np.ndarray:
    """The same function with randomly permuted hidden units."""
    return wa.permute_flat(flat, [rng.permutation(h) for h in layout.hidden], layout)


def _bank(rng, runs=4, steps=6) -> np.ndarray:
    """``[runs * steps, P]``: independent runs, each a random walk of small training steps."""
    rows = []
    for _ in range(runs):
        x = _net(rng)
        for _ in range(steps):
            x = x + rng.normal(0.0, STEP, P).astype(np.float32)
            rows.append(x.copy())
    return np.stack(rows)


@pytest.mark.parametrize("activation,output", [("relu", "linear"), ("tanh", "tanh"), ("elu", "gaussian_tanh")])
def test_alignment_preserves_the_function_and_never_increases_the_distance(activation, output):
    layout = PolicyLayout(obs_dim=5, action_dim=3, hidden=(16, 12, 8), activation=activation, output=output)
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(200, 5)).astype(np.float32)
    for _ in range(5):
        ref, other = _net(rng, layout), _net(rng, layout)
        aligned = wa.align_to(ref, other, layout)
        assert aligned.shape == other.shape and aligned.dtype == np.float32
        assert not np.array_equal(aligned, other)  # units really were reordered
        np.testing.assert_allclose(layout.forward_numpy(aligned, obs), layout.forward_numpy(other, obs), atol=1e-5)
        assert np.linalg.norm(ref - aligned) <= np.linalg.norm(ref - other) + 1e-6
        assert wa.aligned_distance(ref, other, layout) < 0.95 * np.linalg.norm(ref - other)
        assert np.array_equal(np.sort(aligned), np.sort(other))  # a permutation of the same numbers


def test_permuted_copies_are_found_exactly():
    rng = np.random.default_rng(2)
    ref = _net(rng)
    copy = _shuffled(ref, rng)
    assert np.linalg.norm(ref - copy) > 5.0
    assert wa.aligned_distance(ref, copy, LAYOUT) < 1e-5
    noisy = _shuffled(ref + rng.normal(0, 0.01, P).astype(np.float32), rng)
    assert wa.aligned_distance(ref, noisy, LAYOUT) == pytest.approx(0.01 * np.sqrt(P), rel=0.2)
    assert wa.aligned_distance(ref, copy, LAYOUT, metric="cosine") < 1e-6
    with pytest.raises(ValueError, match="metric"):
        wa.aligned_distance(ref, copy, LAYOUT, metric="l7")


def test_alignment_recovers_noisy_permuted_copies_of_deeper_networks():
    layout = PolicyLayout(obs_dim=5, action_dim=3, hidden=(64, 64, 64))
    rng = np.random.default_rng(10)
    ref = _net(rng, layout)
    for _ in range(6):
        noise = rng.normal(0, 0.1, layout.num_params).astype(np.float32)
        copy = _shuffled(ref + noise, rng, layout)
        assert wa.aligned_distance(ref, copy, layout) <= np.linalg.norm(noise) * (1 + 1e-5)


def test_alignment_is_near_the_exhaustive_optimum_on_tiny_networks():
    layout = PolicyLayout(obs_dim=3, action_dim=2, hidden=(4, 5), output="linear")
    rng = np.random.default_rng(0)
    all_perms = [[np.array(p), np.array(q)] for p in itertools.permutations(range(4))
                 for q in itertools.permutations(range(5))]
    ratios = []
    for _ in range(10):
        a, b = _net(rng, layout), _net(rng, layout)
        best = min(np.linalg.norm(a - wa.permute_flat(b, perms, layout)) for perms in all_perms)
        ratios.append(wa.aligned_distance(a, b, layout) / best)
    assert min(ratios) >= 1 - 1e-6
    assert np.mean(ratios) < 1.03 and sum(r < 1 + 1e-6 for r in ratios) >= 4  # incoming-only matching: ~1.07


def test_invariant_signature_is_a_lower_bound_under_any_permutation():
    rng = np.random.default_rng(3)
    a, b = _net(rng), _net(rng)
    sig = wa.invariant_signature(np.stack([a, b]), LAYOUT)
    lower = np.linalg.norm(sig[0] - sig[1])
    assert 0 < lower <= wa.aligned_distance(a, b, LAYOUT)
    for _ in range(5):
        assert lower <= np.linalg.norm(a - _shuffled(b, rng)) + 1e-6
    np.testing.assert_allclose(wa.invariant_signature(_shuffled(a, rng), LAYOUT), sig[0], rtol=1e-6)


def _brute_force(generated, bank, k):
    d = np.array([[wa.aligned_distance(g, c, LAYOUT) for c in bank] for g in generated])
    idx = np.argsort(d, 1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, 1)


def test_nearest_checkpoints_agrees_with_brute_force():
    rng = np.random.default_rng(4)
    bank = _bank(rng, runs=3, steps=4)
    sources = [1, 6, 11]
    generated = np.stack([_shuffled(bank[s] + rng.normal(0, 0.003, P).astype(np.float32), rng) for s in sources]
                         + [_net(rng), mem.interpolate(bank[0], bank[9], 0.4, LAYOUT)])
    want_idx, want_dist = _brute_force(generated, bank, k=3)
    idx, dist = wa.nearest_checkpoints(generated, bank, LAYOUT, k=3, prefilter=None)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(dist, want_dist, rtol=1e-9)
    # a small prefilter still finds the permuted copies (raw distance alone would not: they are shuffled)
    raw_nearest = wa.raw_distances(generated[:3], bank).argmin(1)
    assert (raw_nearest != sources).any()
    idx, dist = wa.nearest_checkpoints(generated[:3], bank, LAYOUT, k=1, prefilter=2)
    np.testing.assert_array_equal(idx[:, 0], sources)
    np.testing.assert_allclose(dist[:, 0], want_dist[:3, 0], rtol=1e-9)
    with pytest.raises(ValueError, match="k="):
        wa.nearest_checkpoints(generated, bank, LAYOUT, k=len(bank) + 1)


def test_pairwise_bank_distances_excludes_self_and_sees_through_permutations():
    rng = np.random.default_rng(5)
    bank = _bank(rng, runs=2, steps=4)
    nn = wa.pairwise_bank_distances(bank, LAYOUT, sample=None)
    assert nn.shape == (8,) and (nn > 0).all()
    np.testing.assert_allclose(nn, STEP * np.sqrt(P), rtol=0.25)  # neighbours are one training step apart
    shuffled = np.stack([_shuffled(x, rng) for x in bank])  # every checkpoint in its own basis
    np.testing.assert_allclose(wa.pairwise_bank_distances(shuffled, LAYOUT, sample=None), nn, rtol=1e-6)
    assert wa.pairwise_bank_distances(bank, LAYOUT, sample=3).shape == (3,)
    assert wa.nn_param_distance_ratio(np.full(4, 2.0), np.array([0.0, 1.0, 1.0, 1.0])) == pytest.approx(2.0)


def test_noise_matched_has_exactly_the_requested_distance():
    rng = np.random.default_rng(6)
    base = _net(rng)
    noisy = mem.noise_matched(base, 3.5, rng)
    assert np.linalg.norm(noisy - base) == pytest.approx(3.5, rel=1e-12)
    batch = np.stack([base, base])
    targets = np.array([0.5, 7.0])
    out = mem.noise_matched(batch, targets, rng)
    np.testing.assert_allclose(np.linalg.norm(out - batch, axis=1), targets, rtol=1e-12)
    assert not np.allclose(out[0] - base, (out[1] - base) / 14.0)  # independent directions
    with pytest.raises(ValueError):
        mem.noise_matched(base, -1.0, rng)


def test_interpolate_and_average_work_after_alignment():
    rng = np.random.default_rng(7)
    a = _net(rng)
    b = _shuffled(a + rng.normal(0, 0.05, P).astype(np.float32), rng)
    obs = rng.normal(size=(50, 5)).astype(np.float32)
    np.testing.assert_array_equal(mem.interpolate(a, b, 0.0, LAYOUT), a)
    np.testing.assert_allclose(LAYOUT.forward_numpy(mem.interpolate(a, b, 1.0, LAYOUT), obs),
                               LAYOUT.forward_numpy(b, obs), atol=1e-5)
    mid = mem.interpolate(a, b, 0.5, LAYOUT)
    assert np.linalg.norm(mid - a) == pytest.approx(0.5 * wa.aligned_distance(a, b, LAYOUT), rel=1e-5)
    behavior = {name: mem.policy_behavior_distance(LAYOUT, x, a, obs)
                for name, x in (("mid", mid), ("b", b), ("naive", 0.5 * (a + b)))}
    assert behavior["mid"] == pytest.approx(0.5 * behavior["b"], rel=0.1)  # halfway in behavior too
    assert behavior["naive"] > 2 * behavior["b"]  # averaging without alignment breaks the function
    bank = np.stack([a, _net(rng), _shuffled(a, rng)])
    np.testing.assert_allclose(mem.average_of_nearest(bank, [0, 2], LAYOUT), a, atol=1e-6)
    dist, alpha = mem.interpolation_distance(_shuffled(mid, rng), a, b, LAYOUT)
    assert dist < 1e-4 and alpha == pytest.approx(0.5, abs=1e-3)


def test_behavior_distance():
    a = np.zeros((2, 4, 2))
    b = a.copy()
    b[..., 0], b[..., 1] = 3.0, 4.0
    assert mem.behavior_distance(a, b) == pytest.approx(5.0)
    b[1] = 0.0
    assert mem.behavior_distance(a, b) == pytest.approx(2.5)  # mean over episodes and steps
    with pytest.raises(ValueError, match="same shape"):
        mem.behavior_distance(a, b[:, :3])
    rng = np.random.default_rng(8)
    net = _net(rng)
    obs = rng.normal(size=(30, 5)).astype(np.float32)
    assert mem.policy_behavior_distance(LAYOUT, net, _shuffled(net, rng), obs) < 1e-5
    assert mem.policy_behavior_distance(LAYOUT, net, _net(rng), obs) > 0.1


def test_classify_rules():
    bank_nn = np.linspace(1.0, 2.0, 101)  # 25th percentile 1.25
    labels = mem.classify(param_dist=np.array([0.5, 0.5, 3.0, 3.0, 1.5, 1.1]),
                          bank_nn=bank_nn,
                          interp_dist=np.array([0.5, 0.4, 0.1, 2.0, 1.3, 0.1]),
                          behavior=np.array([0.01, 0.5, 1.0, 1.0, 1.0, 0.01]))
    assert labels.tolist() == ["replica", "interpolation", "interpolation", "novel", "novel", "replica"]
    # thresholds are arguments
    assert mem.classify(np.array([1.5]), bank_nn, np.array([9.0]), replica_quantile=0.6).tolist() == ["replica"]
    assert mem.classify(np.array([0.5]), bank_nn, np.array([9.0]), np.array([0.2]),
                        behavior_tol=0.3).tolist() == ["replica"]
    assert mem.classify(np.array([3.0]), bank_nn, np.array([2.6]), interp_margin=0.9,
                        interp_quantile=1.0).tolist() == ["novel"]  # 2.6 > 0.9 * 3.0 - not clearly nearer


def test_analyze_labels_replicas_interpolations_and_new_networks(tmp_path):
    rng = np.random.default_rng(9)
    bank = _bank(rng)
    replicas = [_shuffled(bank[i] + rng.normal(0, 0.002, P).astype(np.float32), rng) for i in (2, 9, 20)]
    interps = [_shuffled(mem.interpolate(bank[i], bank[j], alpha, LAYOUT), rng)
               for i, j, alpha in ((0, 11, 0.5), (7, 19, 0.3), (14, 22, 0.6))]
    novel = [_net(rng) for _ in range(3)]
    generated = np.stack(replicas + interps + novel)
    obs = rng.normal(size=(64, 5)).astype(np.float32)
    report = mem.analyze(generated, bank, LAYOUT, obs=obs, sample=None, prefilter=None, seed=0)
    assert report.labels.tolist() == ["replica"] * 3 + ["interpolation"] * 3 + ["novel"] * 3
    np.testing.assert_array_equal(report.nearest[:3, 0], [2, 9, 20])
    assert (report.raw_dist[:3] > 50 * report.param_dist[:3]).all()  # invisible without alignment
    runs = np.sort(report.interp_pair[3:6] // 6, 1)  # the segment joins checkpoints of the two mixed runs
    np.testing.assert_array_equal(runs, [[0, 1], [1, 3], [2, 3]])
    assert (report.interp_dist[3:6] < 0.5 * report.thresholds["tau_interp"]).all()
    assert (report.interp_dist[3:6] < 0.1 * report.param_dist[3:6]).all()
    # the noise baseline sits at the generated policy's distance (alignment may shave a little off) ...
    assert (report.noise_param_dist <= report.param_dist + 1e-4).all()
    assert (report.noise_param_dist > 0.7 * report.param_dist).all()
    # ... and the replicas here ARE noisy copies, so they behave like it
    np.testing.assert_allclose(report.noise_behavior[:3], report.behavior[:3], rtol=0.5)
    # for a replica the two nearest are neighbours in one run: their average is half a step from the nearest
    np.testing.assert_allclose(report.average_param_dist[:3], 0.5 * STEP * np.sqrt(P), rtol=0.35)
    summary = report.summary()
    assert summary["num_replica"] == summary["num_interpolation"] == summary["num_novel"] == 3
    assert summary["maa_nn_param_distance_ratio"] == pytest.approx(
        np.median(report.param_dist) / np.median(report.bank_nn))
    assert summary["raw_nn_param_distance_ratio"] > summary["maa_nn_param_distance_ratio"]
    png = mem.plot_memorization(report, tmp_path / "plots" / "memorization.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    # parameters only (no observations): still labels, and the plot says so
    bare = mem.analyze(generated[:1], bank, LAYOUT, sample=8, prefilter=8)
    assert bare.behavior is None and bare.labels.tolist() == ["replica"]
    mem.plot_memorization(bare, tmp_path / "bare.png")
