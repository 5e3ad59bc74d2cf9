from __future__ import annotations

import numpy as np
import pytest

from maa_core.prompt import PromptError, Trajectory
from maa_core.prompt_io import load_prompt, save_prompt


def _traj(success=True):
    rng = np.random.default_rng(0)
    return Trajectory(obs=rng.normal(size=(20, 5)), act=rng.normal(size=(20, 2)),
                      success=(np.arange(20) > 10) if success else None, dt=0.02, domain="go2", task="flat")


@pytest.mark.parametrize("success", [True, False])
def test_round_trip(tmp_path, success):
    traj = _traj(success)
    back = load_prompt(save_prompt(tmp_path / "p.npz", traj))
    np.testing.assert_array_equal(back.obs, traj.obs)
    np.testing.assert_array_equal(back.act, traj.act)
    assert (back.domain, back.task, back.dt) == ("go2", "flat", 0.02)
    assert (back.success is None) == (not success)


def test_errors(tmp_path):
    with pytest.raises(PromptError, match="not found"):
        load_prompt(tmp_path / "missing.npz")
    path = save_prompt(tmp_path / "p.npz", _traj())
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(PromptError, match="truncated or corrupt"):
        load_prompt(path)
    np.savez(tmp_path / "other.npz", obs=np.zeros((2, 2)))
    with pytest.raises(PromptError, match="format"):
        load_prompt(tmp_path / "other.npz")
