import numpy as np
import pytest

from maa_generator.models.retrieval import NearestPrompt


def _bank(seed=0, n=40):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(n, 12)).astype(np.float32) * rng.uniform(0.1, 10, 12)  # badly scaled dims
    v = rng.normal(size=(n, 5)).astype(np.float32)
    return rng, h, v


def test_l2_on_z_scored_prompts_finds_the_perturbed_rows():
    rng, h, v = _bank()
    index = NearestPrompt(h, v)
    q = [1, 20, 39]
    assert index.nearest(h[q] + 0.01 * rng.normal(size=(3, 12)) * h.std(0), v[q]).tolist() == q


def test_cosine_ignores_scale_and_l2_does_not():
    embed = lambda h, v: h[:, :2]  # noqa: E731  a 2-D "embedding"
    h = np.array([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0]], np.float32)
    v = np.zeros((3, 1), np.float32)
    query = np.array([[9.0, 0.2]], np.float32), np.zeros((1, 1), np.float32)
    assert NearestPrompt(h, v, embed, "cosine").nearest(*query).tolist() == [0]  # same direction as row 0
    assert NearestPrompt(h, v, embed, "l2").nearest(*query).tolist() == [1]  # closest point


def test_bad_inputs_say_what_was_expected():
    _, h, v = _bank()
    with pytest.raises(ValueError, match="metric must be one of"):
        NearestPrompt(h, v, metric="manhattan")
    with pytest.raises(ValueError, match=r"same N >= 1"):
        NearestPrompt(h, v[:3])
    with pytest.raises(ValueError, match=r"same N >= 1"):
        NearestPrompt(h[:0], v[:0])
