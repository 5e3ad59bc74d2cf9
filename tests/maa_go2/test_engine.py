"""MuJoCo engine: batched reset/step shapes, determinism with a seed, input validation."""
import numpy as np
import pytest

from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import EnvConfig


def _env(seed=0, n=4):
    return MujocoGo2Env(EnvConfig(num_envs=n, history_len=3), seed=seed)


def _roll(env, steps=15):
    rng = np.random.default_rng(1)
    out = []
    for _ in range(steps):
        out.append(env.step(rng.normal(size=(env.num_envs, 12)) * 0.3)[0])
    return np.stack(out)


def test_reset_step_shapes():
    env = _env()
    obs = env.reset()
    assert obs.shape == (4, 70)
    obs, priv, rew, done, info = env.step(np.zeros((4, 12)))
    assert obs.shape == (4, 70) and priv.shape == (4, 7) and rew.shape == (4,) and done.shape == (4,)
    assert info["obs_history"].shape == (4, 3 * 70)
    np.testing.assert_allclose(info["obs_history"][:, -70:], obs)
    assert np.all(np.isfinite(obs)) and np.all(rew >= 0)
    env.reset(np.array([1]))
    assert env.episode_step[1] == 0 and env.episode_step[0] == 1


def test_determinism_with_seed():
    a, b, c = _roll(_env(0)), _roll(_env(0)), _roll(_env(1))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_bad_inputs():
    env = _env()
    with pytest.raises(ValueError, match=r"actions \[4, 12\]"):
        env.step(np.zeros((4, 11)))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full((4, 12), np.nan))
    with pytest.raises(IndexError):
        env.reset(np.array([7]))


def test_fixed_commands_and_fall_detection():
    env = _env(n=2)
    cmd = np.zeros((2, 15))
    cmd[:, 0], cmd[:, 4], cmd[:, 8] = 0.5, 3.0, 0.5
    env.set_commands(cmd)
    env.reset()
    env.state[0, 4:8] = [0.0, 1.0, 0.0, 0.0]  # env 0 upside down -> falls at the next step
    _, _, _, done, info = env.step(np.zeros((2, 12)))
    assert done[0] and info["fell"][0] and not done[1]
    np.testing.assert_allclose(env.commands[:, 0], 0.5)


def test_calf_contacts_count_as_leg_collisions_like_the_isaac_task():
    import mujoco

    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.env_config import EnvConfig

    env = MujocoGo2Env(EnvConfig(num_envs=2, history_len=2), seed=0)
    m = env.base_model
    names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SENSOR, i) for i in range(m.nsensor)]
    assert names[-4:] == ["FL_calf_force", "FR_calf_force", "RL_calf_force", "RR_calf_force"]
    env.sensordata[:] = 0.0
    env.sensordata[0, 28] = 3.0  # FL thigh
    env.sensordata[0, 35] = 7.0  # RL calf
    kin = env._kinematics()
    assert kin["collision_force"][0].tolist() == [3.0, 0.0, 7.0, 0.0] and kin["base_force"][0] == 0.0


def test_randomized_torque_limits_and_actuation_delay_reach_the_physics():
    """``domain_rand.torque_limit_scale`` clamps each env's motor torques to its own factor of the limits, and
    ``actuation_delay_ms`` holds the previous target: with a 20 ms delay the new actions do not act at all."""
    from maa_go2.control import TORQUE_LIMITS
    from maa_go2.randomization import RandomizationConfig

    def env_with(**dr):
        cfg = EnvConfig(num_envs=6, history_len=3, obs_noise=False,
                        domain_rand=RandomizationConfig(latency_prob=0.0, push_interval_s=100.0, **dr))
        return MujocoGo2Env(cfg, seed=3)

    env = env_with(torque_limit_scale=[0.2, 0.6])
    scale = env.params["torque_limit_scale"]
    assert 0.2 <= scale.min() and scale.max() <= 0.6 and scale.std() > 0.05
    env.step(np.full((6, 12), env.cfg.clip_actions))  # far targets: the motors saturate
    limit = scale[:, None] * np.asarray(TORQUE_LIMITS)[None]
    assert np.all(np.abs(env.torques) <= limit * (1 + 1e-9))
    assert np.isclose(np.abs(env.torques), limit).sum(axis=1).min() >= 6  # each env at its own limits

    held, prompt = env_with(actuation_delay_ms=[20.0, 20.0]), env_with()
    for e in (held, prompt):
        e.step(np.full((6, 12), 2.0))
    still = env_with()
    still.step(np.zeros((6, 12)))
    np.testing.assert_allclose(held.qpos, still.qpos, atol=1e-9)  # the first step acted on the previous (zero) target
    assert np.abs(prompt.qpos - still.qpos).max() > 1e-3


def test_engine_joint_damping_lives_in_the_model_variants():
    """Each model variant carries its own ``dof_damping`` on the leg joints (the base and the floating base keep
    theirs); an env's ``engine_joint_damping`` is its variant's."""
    from maa_go2.randomization import RandomizationConfig

    cfg = EnvConfig(num_envs=8, domain_rand=RandomizationConfig(num_model_variants=4, engine_joint_damping=[1.0, 3.0],
                                                                push_interval_s=1e6))
    env = MujocoGo2Env(cfg, seed=2)
    env.reset()
    base = env.base_model.dof_damping.copy()
    for j, model in enumerate(env.variants):
        np.testing.assert_allclose(model.dof_damping[6:], base[6:] + env.variant_params["engine_joint_damping"][j])
        np.testing.assert_array_equal(model.dof_damping[:6], base[:6])
    assert len(set(env.variant_params["engine_joint_damping"])) == 4
    for i in range(env.num_envs):
        assert env.models[i] is env.variants[env.variant_of_env[i]]
        variant_value = env.variant_params["engine_joint_damping"][env.variant_of_env[i]]
        assert env.params["engine_joint_damping"][i] == variant_value
    with pytest.raises(ValueError, match="engine_joint_damping"):
        RandomizationConfig(engine_joint_damping=[2.0, 1.0])


def test_physics_substeps_refine_the_step_without_touching_the_callers_model():
    """K MuJoCo steps of SIM_DT / K per physics step: the robots do (nearly) what they do at K = 1, on a finer step."""
    from maa_go2.engines.mujoco_engine import load_model

    model = load_model()
    cfg = EnvConfig(num_envs=3, history_len=3)
    coarse, fine = MujocoGo2Env(cfg, seed=4, base_model=model), MujocoGo2Env(cfg, seed=4, base_model=model,
                                                                              physics_substeps=4)
    assert model.opt.timestep == pytest.approx(0.005) and fine.base_model.opt.timestep == pytest.approx(0.00125)
    assert all(m.opt.timestep == pytest.approx(0.00125) for m in fine.variants)
    _roll(coarse, 10)
    assert np.all(np.isfinite(_roll(fine, 10)))
    gap = np.abs(coarse.qpos - fine.qpos).max()
    assert 1e-6 < gap < 0.05, gap  # another integration of the same robots and actions, not another robot
    assert np.abs(fine.sensordata[:, 24:37]).max() > 0  # contact forces still recorded (max over the sub-steps)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="physics_substeps"):
            MujocoGo2Env(cfg, seed=0, physics_substeps=bad)
