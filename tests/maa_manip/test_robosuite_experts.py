"""Scripted robosuite experts in both layouts: action layout, error messages, and real task success."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("robosuite")

from maa_manip.envs import EnvError  # noqa: E402
from maa_manip.robosuite_env import RobosuiteEnv, control_spec  # noqa: E402
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


@pytest.mark.parametrize("control", ["osc", "joint"])
def test_action_shape_range_and_pure(control):
    expert = robosuite_expert("Lift", "Panda", control)
    env = RobosuiteEnv("Lift", "Panda", init_seed=3, init_mode="fixed", max_steps=5, control=control)
    s = env.reset()
    a = expert.get_action(s)
    assert a.shape == (control_spec(control).act_dim,) and a.dtype == np.float32
    assert np.all(np.abs(a) <= 1.0) and np.abs(a[:-1]).max() > 0.0
    assert a[-1] == -1.0  # far from the cube: gripper open
    np.testing.assert_array_equal(a, expert.get_action(s.copy()))  # a pure function of the state


def test_errors(lift_expert):
    with pytest.raises(EnvError, match="no scripted robosuite expert for task 'Stack'"):
        robosuite_expert("Stack", "Panda")
    with pytest.raises(EnvError, match="unknown robot 'UR5e'"):
        robosuite_expert("Lift", "UR5e")
    with pytest.raises(EnvError, match="unknown robosuite control 'ik'"):
        robosuite_expert("Lift", "Panda", "ik")
    with pytest.raises(EnvError, match=r"\(osc layout\): expected a state of shape \[25\], got \[41\]"):
        lift_expert.get_action(np.zeros(41))
    bad = np.zeros(25)
    bad[5] = np.nan
    with pytest.raises(EnvError, match="non-finite"):
        lift_expert.get_action(bad)


@pytest.mark.parametrize("robot,seed", [("Panda", 0), ("Panda", 1), ("Sawyer", 0)])
def test_lift_osc_succeeds_on_both_arms(robot, seed):
    """One Cartesian expert, two arms: Sawyer reaches the cube only because its joint 0 is freed (see
    maa_manip.robosuite_env.free_sawyer_joint0)."""
    env = RobosuiteEnv("Lift", robot, init_seed=seed, init_mode="fixed", max_steps=120)
    success, steps = _episode(robosuite_expert("Lift", robot), env)
    assert success, f"Lift {robot} seed {seed}: no success in {steps} steps"


def test_lift_joint_panda_succeeds():
    env = RobosuiteEnv("Lift", "Panda", init_seed=0, init_mode="fixed", max_steps=250, control="joint")
    success, steps = _episode(robosuite_expert("Lift", "Panda", "joint"), env)
    assert success, f"Lift (joint): no success in {steps} steps"


@pytest.mark.parametrize("robot,control", [("Panda", "osc"), ("Panda", "joint"), ("Sawyer", "osc")])
def test_door_succeeds(robot, control):
    """One osc grasp for both arms (Sawyer's wrist hits the lever's base at the joint layout's tilt); Sawyer also needs
    its joint 0 freed."""
    expert = robosuite_expert("Door", robot, control)
    env = RobosuiteEnv("Door", robot, init_seed=0, init_mode="fixed", max_steps=500, control=control)
    success, steps = _episode(expert, env)
    assert success, f"Door {robot} ({control}): no success in {steps} steps"


@pytest.mark.parametrize("robot,nut_id", [("Panda", 0), ("Panda", 1), ("Sawyer", 0)])
def test_nut_assembly_osc_succeeds_with_either_nut(robot, nut_id):
    """NutAssemblySingle draws the square (id 0) or the round (id 1) nut; the state carries the drawn one. Which nut
    a seed draws depends on Python's string hashing (robosuite picks from a set), so the test looks for a seed that
    draws ``nut_id`` among seeds 0-3 (seeds the expert was measured on)."""
    expert = robosuite_expert("NutAssemblySingle", robot)
    envs = [RobosuiteEnv("NutAssemblySingle", robot, init_seed=seed, init_mode="fixed", max_steps=250)
            for seed in (0, 1, 2, 3)]
    env = next((e for e in envs if e.reset()[-1] == nut_id), None)
    assert env is not None, f"no seed of 0-3 drew nut {nut_id}"
    success, steps = _episode(expert, env)
    assert success, f"NutAssemblySingle {robot} seed {env.init_seed} (nut {nut_id}): no success in {steps} steps"


def _held_nut_state(nut_id: int, offset_m: float, yaw: float) -> np.ndarray:
    """An ``osc`` state with the nut held high (z 0.99 m) ``offset_m`` from its peg's axis along x, at ``yaw`` (rad)."""
    from maa_manip.robosuite_experts import _NUT_HANDLE, _NUT_PEG

    nut = np.array([*(_NUT_PEG[nut_id] + [offset_m, 0.0]), 0.99])
    eef = nut + _NUT_HANDLE[nut_id] * np.array([np.cos(yaw), np.sin(yaw), 0.0])  # fingers on the handle
    nut_quat = [0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)]
    return np.concatenate([eef, [0.0, 0.0, 0.0, 1.0], [0.3], np.zeros(6), nut, nut_quat, nut - eef, [nut_id]])


@pytest.mark.parametrize("nut_id, offset_m, turn, lets_go", [
    (0, 0.006, 0.10, True),    # square nut: 6 mm and 0.1 rad off (the old 4 mm / 0.05 rad window kept holding)
    (0, 0.015, 0.00, False),   # too far from the square peg
    (0, 0.006, 0.30, False),   # turned too far to slide over the square peg
    (1, 0.015, 1.00, True),    # the round nut turns freely on its round peg
    (1, 0.030, 0.00, False),
])
def test_nut_release_window(nut_id, offset_m, turn, lets_go):
    """The held nut is let go over its peg within the documented window (measured: the expert still solves it,
    bench/robosuite_experts.py), wide enough that a DAgger student sees the release label."""
    state = _held_nut_state(nut_id, offset_m, np.pi / 2 + turn)  # carry yaw pi/2
    grip = robosuite_expert("NutAssemblySingle", "Panda").get_action(state)[-1]
    assert grip == (-1.0 if lets_go else 1.0)
