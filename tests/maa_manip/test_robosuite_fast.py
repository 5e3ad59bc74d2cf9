"""FastStepper reproduces robosuite's own env.step bit for bit; soft resets keep fixed configurations fixed."""
import numpy as np
import pytest

pytest.importorskip("robosuite")

from maa_manip.robosuite_env import RobosuiteEnv  # noqa: E402
from maa_manip.robosuite_fast import FastStepper, fast_step_supported  # noqa: E402


def _state(env: RobosuiteEnv) -> np.ndarray:
    data = env._env.sim.data
    return np.concatenate([data.qpos, data.qvel, data.ctrl])


@pytest.mark.parametrize("task,robot,control", [("Lift", "Panda", "joint"), ("Door", "Sawyer", "joint"),
                                                ("Lift", "Panda", "osc"), ("NutAssemblySingle", "Sawyer", "osc")])
def test_fast_step_is_bit_identical_to_robosuite_step(task, robot, control):
    slow = RobosuiteEnv(task, robot, init_seed=3, fast=False, control=control)
    fast = RobosuiteEnv(task, robot, init_seed=3, fast=False, control=control)  # same scene; only the stepping
    act_dim = slow.act_dim
    stepper = FastStepper(fast._env)
    for episode in range(2):  # the second episode runs after a hard reset: the stepper rebinds to the new scene
        slow.reset()
        fast.reset()
        rng = np.random.default_rng(episode)
        for _ in range(25):
            action = np.clip(rng.normal(0.0, 0.7, act_dim), -1.0, 1.0)  # gripper sign flips included
            obs_s, rew_s, _, _ = slow._env.step(action)
            obs_f, rew_f, _, _ = stepper.step(action)
            np.testing.assert_array_equal(_state(slow), _state(fast))
            assert obs_s.keys() == obs_f.keys()
            for key in obs_s:
                np.testing.assert_array_equal(obs_s[key], obs_f[key])
            assert rew_s == rew_f and slow._env._check_success() == fast._env._check_success()


def test_fast_env_resets_to_the_same_fixed_configuration():
    env = RobosuiteEnv("Lift", "Panda", init_seed=5)  # fast: soft resets
    first = env.reset()
    for _ in range(5):
        env.step(np.ones(7))
    np.testing.assert_array_equal(env.reset(), first)
    np.testing.assert_array_equal(RobosuiteEnv("Lift", "Panda", init_seed=5).reset(), first)
    assert not np.array_equal(RobosuiteEnv("Lift", "Panda", init_seed=6).reset(), first)
    rand = RobosuiteEnv("Lift", "Panda", init_seed=5, init_mode="random")
    assert not np.array_equal(rand.reset(), rand.reset())  # random mode still draws a new placement per reset


@pytest.mark.parametrize("control,attribute", [("joint", "interpolator"), ("osc", "interpolator_ori")])
def test_unsupported_controller_is_refused_with_the_reason(control, attribute):
    env = RobosuiteEnv("Lift", "Panda", init_seed=0, fast=False, control=control)
    setattr(env._env.robots[0].part_controllers["right"], attribute, object())
    assert "interpolator" in fast_step_supported(env._env)
    with pytest.raises(ValueError, match="fast robosuite stepping: needs fixed impedance, no interpolator"):
        FastStepper(env._env)
