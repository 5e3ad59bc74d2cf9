"""Scripted robosuite experts: action layout, error messages, and real task success on Panda."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("robosuite")

from maa_manip.envs import EnvError  # noqa: E402
from maa_manip.robosuite_env import ACT_DIM, OBS_DIM, RobosuiteEnv  # noqa: E402
from maa_manip.robosuite_experts import robosuite_expert  # noqa: E402


@pytest.fixture(scope="module")
def lift_expert():
    return robosuite_expert("Lift", "Panda")


def _episode(expert, env: RobosuiteEnv) -> tuple[bool, int]:
    """Run the expert until the first success or the end of the episode -> (success, steps)."""
    s = env.reset()
    for t in range(env.max_steps):
        s, _, done, success = env.step(expert.get_action(s))
        if success or done:
            return success, t + 1
    return False, env.max_steps


def test_action_shape_range_and_pure(lift_expert):
    env = RobosuiteEnv("Lift", "Panda", init_seed=3, init_mode="fixed", max_steps=5)
    s = env.reset()
    a = lift_expert.get_action(s)
    assert a.shape == (ACT_DIM,) and a.dtype == np.float32
    assert np.all(np.abs(a) <= 1.0) and np.abs(a[:7]).max() > 0.0
    assert a[7] == -1.0  # far from the cube: gripper open
    np.testing.assert_array_equal(a, lift_expert.get_action(s.copy()))  # a pure function of the state


def test_errors(lift_expert):
    with pytest.raises(EnvError, match="no scripted robosuite expert for task 'Stack'"):
        robosuite_expert("Stack", "Panda")
    with pytest.raises(EnvError, match="unknown robot 'UR5e'"):
        robosuite_expert("Lift", "UR5e")
    with pytest.raises(EnvError, match=rf"expected a state of shape \[{OBS_DIM}\], got \[39\]"):
        lift_expert.get_action(np.zeros(39))
    bad = np.zeros(OBS_DIM)
    bad[5] = np.nan
    with pytest.raises(EnvError, match="non-finite"):
        lift_expert.get_action(bad)


@pytest.mark.parametrize("seed", [0, 1])
def test_lift_panda_succeeds(lift_expert, seed):
    env = RobosuiteEnv("Lift", "Panda", init_seed=seed, init_mode="fixed", max_steps=250)
    success, steps = _episode(lift_expert, env)
    assert success, f"Lift seed {seed}: no success in {steps} steps"


def test_door_panda_succeeds():
    expert = robosuite_expert("Door", "Panda")
    env = RobosuiteEnv("Door", "Panda", init_seed=0, init_mode="fixed", max_steps=500)
    success, steps = _episode(expert, env)
    assert success, f"Door: no success in {steps} steps"


@pytest.mark.parametrize("nut_id", [0, 1])
def test_nut_assembly_panda_succeeds_with_either_nut(nut_id):
    """NutAssemblySingle draws the square (id 0) or the round (id 1) nut; the state carries the drawn one. Which nut
    a seed draws depends on Python's string hashing (robosuite picks from a set), so the test looks for a seed that
    draws ``nut_id`` among seeds 0-3 (seeds the expert was measured on)."""
    expert = robosuite_expert("NutAssemblySingle", "Panda")
    envs = [RobosuiteEnv("NutAssemblySingle", "Panda", init_seed=seed, init_mode="fixed", max_steps=500)
            for seed in (0, 1, 2, 3)]
    env = next((e for e in envs if e.reset()[40] == nut_id), None)
    assert env is not None, f"no seed of 0-3 drew nut {nut_id}"
    success, steps = _episode(expert, env)
    assert success, f"NutAssemblySingle seed {env.init_seed} (nut {nut_id}): no success in {steps} steps"
