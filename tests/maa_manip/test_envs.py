"""MetaWorld wrappers: observation size, episode length, success flag, initialization modes."""
import numpy as np
import pytest

from maa_manip.envs import (
    OBS_DIM,
    SEEN_TASKS,
    UNSEEN_TASKS,
    EnvError,
    MetaWorldEnv,
    VecMetaWorld,
    expert_policy,
    rollout,
    v3_name,
)


def test_all_task_names_exist_with_experts():
    for task in SEEN_TASKS + UNSEEN_TASKS:
        assert v3_name(task) == f"{task}-v3"
        assert hasattr(expert_policy(task), "get_action")
    with pytest.raises(EnvError, match="unknown MetaWorld task"):
        v3_name("fly-to-moon")


def test_obs_episode_length_and_errors():
    env = MetaWorldEnv("door-open", init_seed=1, max_steps=5)
    obs = env.reset()
    assert obs.shape == (OBS_DIM,) and obs.dtype == np.float32
    dones = [env.step(np.zeros(4))[2] for _ in range(5)]
    assert dones == [False] * 4 + [True]
    with pytest.raises(EnvError, match="episode is over"):
        env.step(np.zeros(4))
    env.reset()
    with pytest.raises(EnvError, match="shape"):
        env.step(np.zeros(3))


def test_fixed_vs_random_initialization():
    fixed = MetaWorldEnv("reach", init_seed=3, init_mode="fixed")
    assert np.allclose(fixed.reset(), fixed.reset())
    assert not np.allclose(fixed.reset()[-3:], MetaWorldEnv("reach", init_seed=4).reset()[-3:])
    rand = MetaWorldEnv("reach", init_seed=3, init_mode="random")
    assert not np.allclose(rand.reset()[-3:], rand.reset()[-3:])
    again = MetaWorldEnv("reach", init_seed=3, init_mode="random")
    assert np.allclose(MetaWorldEnv("reach", init_seed=3, init_mode="random").reset(), again.reset())


def test_expert_reaches_success_flag_and_zero_policy_does_not():
    vec = VecMetaWorld("reach", [0, 1], "random", max_steps=150)
    expert = expert_policy("reach")
    ro = rollout(vec, lambda o: np.stack([expert.get_action(x.astype(np.float64)) for x in o]))
    assert ro["obs"].shape == (2, 150, OBS_DIM) and ro["success"].shape == (2, 150)
    assert ro["success"].any(1).all()
    still = rollout(vec, lambda o: np.zeros((2, 4)))
    assert not still["success"].any()
