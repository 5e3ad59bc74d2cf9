"""Behavior prompts: content, padding, segmentation, Trajectory validation."""

import numpy as np
import pytest

from maa_core.prompt import PromptError, Trajectory, make_prompt, segmented_prompt, success_prompt


def _traj(t=10, o=3, a=2):
    obs = np.arange(t * o, dtype=np.float32).reshape(t, o)
    act = -np.arange(t * a, dtype=np.float32).reshape(t, a) - 1
    return obs, act


def test_success_prompt_content():
    obs, act = _traj()
    success = np.zeros(10, bool)
    success[4:] = True
    h, v = success_prompt(obs, act, success, n=4, m=3)
    assert h.shape == (4 * 5,) and v.shape == (3 * 3,) and h.dtype == np.float32
    np.testing.assert_array_equal(h.reshape(4, 5), np.concatenate([obs[:4], act[:4]], axis=1))
    np.testing.assert_array_equal(v.reshape(3, 3), obs[5:8])  # states right after the first success (step 4)


def test_success_prompt_fallbacks_and_padding():
    obs, act = _traj()
    _, v = success_prompt(obs, act, None, n=4, m=3)
    np.testing.assert_array_equal(v.reshape(3, 3), obs[7:10])  # no success info: last m states
    _, v = success_prompt(obs, act, np.zeros(10, bool), n=4, m=3)
    np.testing.assert_array_equal(v.reshape(3, 3), obs[7:10])  # never successful: last m states
    late = np.zeros(10, bool)
    late[8] = True
    _, v = success_prompt(obs, act, late, n=4, m=3)
    np.testing.assert_array_equal(v.reshape(3, 3), obs[[9, 9, 9]])  # padded by repeating the last state
    h, v = success_prompt(obs[:2], act[:2], None, n=4, m=3)  # short trajectory: repeat last step
    np.testing.assert_array_equal(h.reshape(4, 5)[2:], np.tile(np.concatenate([obs[1], act[1]]), (2, 1)))
    assert v.shape == (9,)


def test_segmented_prompt():
    obs, act = _traj(t=12)
    h, v = segmented_prompt(obs, act, n=2, m=2, num_segments=3)
    assert h.shape == (3, 2 * 5) and v.shape == (3, 2 * 3)
    np.testing.assert_array_equal(h[1].reshape(2, 5), np.concatenate([obs[4:6], act[4:6]], axis=1))
    np.testing.assert_array_equal(v[2].reshape(2, 3), obs[10:12])
    with pytest.raises(PromptError, match="shorter than num_segments=3"):
        segmented_prompt(obs[:2], act[:2], 2, 2, 3)
    traj = Trajectory(obs, act)
    h2, _ = make_prompt(traj, 2, 2, segments=3)
    np.testing.assert_array_equal(h2, h)


def test_trajectory_validation():
    obs, act = _traj()
    t = Trajectory(obs, act, success=np.zeros(10), dt=0.02, domain="metaworld", task="reach")
    assert t.success.dtype == bool and t.length == 10 and t.obs_dim == 3 and t.act_dim == 2
    with pytest.raises(PromptError, match="obs must be 2-D"):
        Trajectory(obs[0], act)
    with pytest.raises(PromptError, match="same length T, got 10 and 9"):
        Trajectory(obs, act[:9])
    with pytest.raises(PromptError, match="at least 1 step"):
        Trajectory(obs[:0], act[:0])
    bad = obs.copy()
    bad[2, 1] = np.nan
    with pytest.raises(PromptError, match="obs contains 1 non-finite"):
        Trajectory(bad, act)
    with pytest.raises(PromptError, match="success must have shape \\[10\\]"):
        Trajectory(obs, act, success=np.zeros(9))
    with pytest.raises(PromptError, match="dt must be a positive"):
        Trajectory(obs, act, dt=0.0)
    with pytest.raises(PromptError, match="at least 1 step"):
        success_prompt(obs[:0], act[:0], None)
    with pytest.raises(PromptError, match="non-finite"):
        success_prompt(bad, act, None)
