"""Scale-out fallback (no Ray -> process pool) and the robosuite layouts."""
import logging

import numpy as np
import pytest

from maa_generator.data.zoo import Zoo
from maa_manip import scaleout
from maa_manip.config import CollectConfig, DaggerConfig
from maa_manip.jobs import all_jobs, open_writer


def test_pool_fallback_when_ray_missing(tmp_path, monkeypatch, caplog):
    cfg = CollectConfig(tasks=["reach"], seeds=[0, 1], episode_steps=20, store_episodes=0,
                        dagger=DaggerConfig(iterations=2, train_inits=1, random_inits=0, grad_steps=2))
    monkeypatch.setattr(scaleout, "ray_available", lambda: False)
    writer = open_writer(cfg, tmp_path)
    with caplog.at_level(logging.WARNING, logger="maa_manip.scaleout"):
        entries = scaleout.run_parallel(cfg, writer, all_jobs(cfg), workers=2, backend="auto")
    assert "falling back to a local process pool" in caplog.text
    assert sorted(e["name"] for e in entries) == ["reach__dagger-s0000", "reach__dagger-s0001"]
    assert Zoo.open(tmp_path).num_checkpoints == 4


@pytest.mark.parametrize("control,obs_dim,act_dim,params", [("osc", 25, 7, 21646), ("joint", 41, 8, 23952)])
def test_robosuite_layout_and_env(control, obs_dim, act_dim, params):
    pytest.importorskip("robosuite")
    from maa_manip.robosuite_env import RobosuiteEnv, control_of_layout, robosuite_sac_layout

    layout = robosuite_sac_layout(control)
    assert layout.num_params == params and (layout.obs_dim, layout.action_dim) == (obs_dim, act_dim)
    assert control_of_layout(layout) == control
    env = RobosuiteEnv("Lift", "Panda", init_seed=3, init_mode="fixed", max_steps=3, control=control)
    o1 = env.reset()
    assert o1.shape == (obs_dim,) and np.all(np.isfinite(o1))
    outs = [env.step(np.zeros(act_dim)) for _ in range(3)]
    assert [o[2] for o in outs] == [False, False, True] and not any(o[3] for o in outs)
    np.testing.assert_allclose(env.reset(), o1, atol=1e-6)
    with pytest.raises(Exception, match=rf"expected a finite action of shape \[{act_dim}\]"):
        env.step(np.zeros(act_dim + 1))


def test_osc_state_is_arm_agnostic_and_consistent_with_the_simulation():
    """The osc state holds the grip-site pose (w >= 0), a gripper opening fraction and the site's velocity."""
    pytest.importorskip("robosuite")
    import mujoco

    from maa_manip.robosuite_env import RobosuiteEnv

    for robot in ("Panda", "Sawyer"):
        env = RobosuiteEnv("Lift", robot, init_seed=0, max_steps=30)
        env.reset()
        for _ in range(12):
            s, *_ = env.step(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0]))  # open the gripper
        assert s[7] > 0.95, f"{robot}: an open gripper reads {s[7]}"
        for _ in range(14):
            s, *_ = env.step(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))  # close it (nothing in between)
        assert s[7] < 0.1, f"{robot}: a closed gripper reads {s[7]}"
        sim = env._env.sim
        site = sim.model.site_name2id(env._env.robots[0].gripper["right"].important_sites["grip_site"])
        np.testing.assert_allclose(s[:3], sim.data.site_xpos[site], atol=1e-6)
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, sim.data.site_xmat[site])  # w x y z
        xyzw = np.append(quat[1:], quat[0]) * np.sign(quat[0])
        np.testing.assert_allclose(s[3:7], xyzw, atol=1e-5)
        assert s[6] >= 0.0


def test_osc_action_moves_the_hand_the_same_way_on_both_arms():
    """The point of the osc layout: one action, one end-effector motion, whatever the arm."""
    pytest.importorskip("robosuite")
    from maa_manip.robosuite_env import RobosuiteEnv

    moves = {}
    for robot in ("Panda", "Sawyer"):
        env = RobosuiteEnv("Lift", robot, init_seed=0, max_steps=10)
        start = env.reset()[:3]
        for _ in range(8):
            s, *_ = env.step(np.array([0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -1.0]))  # -y at full speed (Sawyer needs joint 0)
        moves[robot] = s[:3] - start
    for robot, move in moves.items():
        assert move[1] < -0.06 and abs(move[0]) < 0.03 and abs(move[2]) < 0.03, f"{robot}: moved {move}"


def test_nut_draw_is_seeded_and_fixed_configurations_repeat():
    """NutAssemblySingle: the nut comes from the env's seeded generator (not robosuite's set order) and a fixed
    configuration (both nuts' placement samplers) is the same at every reset."""
    pytest.importorskip("robosuite")
    from maa_manip.robosuite_env import RobosuiteEnv

    nuts = []
    for seed in range(4):
        env = RobosuiteEnv("NutAssemblySingle", "Panda", init_seed=seed, max_steps=10)
        first = env.reset()
        env.step(np.ones(7))
        np.testing.assert_array_equal(env.reset(), first)
        nuts.append(int(first[-1]))
    assert nuts == [1, 0, 1, 1]  # numpy's default_rng(seed).integers(2): the same in every process
    hard = RobosuiteEnv("NutAssemblySingle", "Panda", init_seed=1, max_steps=10, fast=False)
    assert int(hard.reset()[-1]) == 0 and int(hard.step(np.zeros(7))[0][-1]) == 0  # nut_id after a hard reset too
