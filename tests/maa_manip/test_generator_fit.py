"""maa_manip.generator_fit: row choice and nearest-latent distances of the training-fit check."""
import numpy as np
import pytest
import torch

from maa_manip.generator_fit import fit_rows, nearest_distances


def test_fit_rows_prefers_successful_checkpoints_and_falls_back_to_all():
    meta = [{"success": s} for s in (0.0, 0.9, 1.0, 0.2, 0.85)]
    rows = fit_rows(meta, 10, np.random.default_rng(0))
    assert rows == [1, 2, 4]  # only the successful ones, each once, sorted
    assert len(fit_rows(meta, 2, np.random.default_rng(0))) == 2
    assert fit_rows([{"success": 0.1}, {}], 5, np.random.default_rng(0)) == [0, 1]  # none successful: all
    assert fit_rows([{"success": 0.1}, {"success": 1.0}, {}], 5, np.random.default_rng(0)) == [0, 1, 2]  # one: all


def test_nearest_distances_with_and_without_self():
    bank = torch.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]).reshape(3, 1, 2)
    np.testing.assert_allclose(nearest_distances(bank[:1] + 1e-8, bank, exclude_self=True).numpy(), [5.0])
    np.testing.assert_allclose(nearest_distances(torch.tensor([[[3.0, 3.0]]]), bank).numpy(), [1.0])
    with pytest.raises(RuntimeError):
        nearest_distances(torch.zeros(1, 3), bank)  # width mismatch is not silently broadcast
