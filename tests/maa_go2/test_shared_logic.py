"""Shared WTW logic: control, observation layout, commands, rewards, randomization (numpy and torch agree)."""
import dataclasses

import numpy as np
import pytest
import torch

from maa_go2 import commands as cmds
from maa_go2 import control
from maa_go2.control import DECIMATION
from maa_go2.observation import COMMAND_SCALES, OBS_DIM, OBS_SLICES, ObservationHistory, build_observation
from maa_go2.randomization import NOMINAL, RandomizationConfig, delay_substeps, privileged_obs, sample_params
from maa_go2.rewards import (
    RewardConfig,
    RewardState,
    compute_rewards,
    reward_tracking_contacts_shaped_force,
    reward_tracking_contacts_shaped_vel,
    reward_tracking_lin_vel,
)


def test_default_pose_and_action_scaling():
    np.testing.assert_allclose(control.DEFAULT_JOINT_POS[:3], [0.1, 0.8, -1.5])
    np.testing.assert_allclose(control.DEFAULT_JOINT_POS[3:6], [-0.1, 0.8, -1.5])
    np.testing.assert_allclose(control.DEFAULT_JOINT_POS[6:9], [0.1, 1.0, -1.5])
    tgt = control.action_to_target(np.ones((1, 12)))[0] - control.DEFAULT_JOINT_POS
    np.testing.assert_allclose(tgt[[0, 3, 6, 9]], 0.125)  # hip: 0.25 x 0.5
    np.testing.assert_allclose(tgt[[1, 2, 4, 5]], 0.25)


def test_pd_torque_and_clamp_numpy_torch():
    q = np.zeros((2, 12))
    tgt = np.full((2, 12), 0.1)
    tau = control.pd_torque(tgt, q, np.ones((2, 12)))
    np.testing.assert_allclose(tau, 20 * 0.1 - 0.5)
    big = control.pd_torque(np.full((1, 12), 5.0), np.zeros((1, 12)), np.zeros((1, 12)))
    np.testing.assert_allclose(big[0], control.TORQUE_LIMITS)
    assert control.TORQUE_LIMITS[2] == 35.55 and control.TORQUE_LIMITS[0] == 23.7
    t = control.pd_torque(torch.full((1, 12), -5.0), torch.zeros(1, 12), torch.zeros(1, 12), motor_strength=0.5)
    np.testing.assert_allclose(t[0].numpy(), -control.TORQUE_LIMITS)
    with pytest.raises(ValueError, match="last dim 12"):
        control.pd_torque(np.zeros((1, 11)), np.zeros((1, 11)), np.zeros((1, 11)))


def test_passive_joint_losses_oppose_the_velocity_after_the_clamp():
    qd = np.array([[2.0] * 6 + [-2.0] * 6])
    free = control.pd_torque(np.zeros((1, 12)), np.zeros((1, 12)), qd)
    lossy = control.pd_torque(np.zeros((1, 12)), np.zeros((1, 12)), qd, damping=np.array([[0.8]]),
                              friction=np.array([[0.1]]))
    expected = -0.8 * qd - 0.1 * np.tanh(qd / control.PASSIVE_FRICTION_VEL)
    np.testing.assert_allclose(lossy - free, expected)
    assert np.all(np.sign(lossy - free) == -np.sign(qd))
    # a saturated motor still feels the losses: they are not motor torque
    sat = control.pd_torque(np.full((1, 12), 5.0), np.zeros((1, 12)), np.ones((1, 12)), damping=1.0)
    np.testing.assert_allclose(sat[0], control.TORQUE_LIMITS - 1.0)
    t = control.pd_torque(torch.zeros(1, 12), torch.zeros(1, 12), torch.as_tensor(qd), damping=torch.full((1, 1), 0.8),
                          friction=torch.full((1, 1), 0.1))
    np.testing.assert_allclose(t.numpy(), lossy)


def test_passive_randomization_is_drawn_after_the_other_parameters():
    """Configs without passive losses draw exactly the values they drew before the losses existed."""
    plain = sample_params(np.random.default_rng(3), 64, RandomizationConfig())
    lossy_cfg = RandomizationConfig(joint_damping=[0.0, 1.0], joint_friction=[0.05, 0.2])
    lossy = sample_params(np.random.default_rng(3), 64, lossy_cfg)
    for key in ("friction", "restitution", "added_mass", "motor_strength", "kp_factor", "kd_factor", "latency"):
        np.testing.assert_array_equal(plain[key], lossy[key], err_msg=key)
    assert np.all(plain["joint_damping"] == 0.0) and np.all(plain["joint_friction"] == 0.0)
    assert 0.0 <= lossy["joint_damping"].min() and lossy["joint_damping"].max() <= 1.0
    assert lossy["joint_damping"].std() > 0.2 and 0.05 <= lossy["joint_friction"].min()
    with pytest.raises(ValueError, match="joint_damping"):
        RandomizationConfig(joint_damping=[-0.1, 0.5])


def test_actuation_randomization_is_drawn_last_and_validated():
    """Torque-limit factor and actuation delay: drawn after every other parameter (older configs keep their
    streams), rounded to physics steps and capped at one policy step; out-of-range configs say what is expected."""
    lossy_cfg = RandomizationConfig(joint_damping=[0.0, 1.0], joint_friction=[0.05, 0.2])
    full_cfg = RandomizationConfig(joint_damping=[0.0, 1.0], joint_friction=[0.05, 0.2],
                                   torque_limit_scale=[0.7, 1.0], actuation_delay_ms=[0.0, 20.0])
    lossy = sample_params(np.random.default_rng(5), 256, lossy_cfg)
    full = sample_params(np.random.default_rng(5), 256, full_cfg)
    for key, val in lossy.items():
        if key in ("torque_limit_scale", "actuation_delay_ms"):
            assert np.all(val == NOMINAL[key]), key
        else:
            np.testing.assert_array_equal(val, full[key], err_msg=key)
    assert 0.7 <= full["torque_limit_scale"].min() and full["torque_limit_scale"].max() <= 1.0
    steps = delay_substeps(full["actuation_delay_ms"])
    assert set(np.unique(steps)) == set(range(DECIMATION + 1))  # 0, 5, ..., 20 ms
    # the evaluation's extra delay adds on, capped at one policy step
    extra = np.array([0, 0, 3, 4])
    np.testing.assert_array_equal(delay_substeps(np.array([0.0, 2.4, 2.6, 12.0]), extra), [0, 0, 4, 4])
    with pytest.raises(ValueError, match="torque_limit_scale"):
        RandomizationConfig(torque_limit_scale=[0.05, 1.0])
    with pytest.raises(ValueError, match=r"actuation_delay_ms.*\[0, 20\] ms"):
        RandomizationConfig(actuation_delay_ms=[0.0, 25.0])


def test_engine_joint_damping_is_drawn_last_and_only_when_set():
    """``engine_joint_damping`` (per model variant, integrated by the engine): configs without it keep every value
    they drew before it existed; a negative range says what is expected."""
    full_cfg = RandomizationConfig(joint_damping=[0.0, 1.0], joint_friction=[0.05, 0.2],
                                   torque_limit_scale=[0.7, 1.0], actuation_delay_ms=[0.0, 20.0])
    before = sample_params(np.random.default_rng(7), 128, full_cfg)
    after = sample_params(np.random.default_rng(7), 128,
                          dataclasses.replace(full_cfg, engine_joint_damping=[0.2, 1.5]))
    for key, val in before.items():
        if key == "engine_joint_damping":
            assert np.all(val == 0.0)
        else:
            np.testing.assert_array_equal(val, after[key], err_msg=key)
    assert 0.2 <= after["engine_joint_damping"].min() and after["engine_joint_damping"].max() <= 1.5
    assert after["engine_joint_damping"].std() > 0.2
    with pytest.raises(ValueError, match="engine_joint_damping.*>= 0"):
        RandomizationConfig(engine_joint_damping=[-0.5, 1.0])


def test_observation_layout_and_scales():
    assert OBS_DIM == 70
    order = ["projected_gravity", "commands", "dof_pos", "dof_vel", "actions", "last_actions", "clock"]
    assert list(OBS_SLICES) == order
    assert OBS_SLICES["commands"] == slice(3, 18) and OBS_SLICES["clock"] == slice(66, 70)
    n = 3
    args = dict(projected_gravity=np.tile([0, 0, -1.0], (n, 1)), commands=np.ones((n, 15)),
                dof_pos=np.tile(control.DEFAULT_JOINT_POS + 0.1, (n, 1)), dof_vel=np.ones((n, 12)),
                actions=np.full((n, 12), 2.0), last_actions=np.full((n, 12), 3.0), clock=np.full((n, 4), 0.5))
    obs = build_observation(**args)
    assert obs.shape == (n, 70)
    np.testing.assert_allclose(obs[0, OBS_SLICES["commands"]], COMMAND_SCALES)
    np.testing.assert_allclose(obs[0, OBS_SLICES["dof_pos"]], 0.1)
    np.testing.assert_allclose(obs[0, OBS_SLICES["dof_vel"]], 0.05)
    np.testing.assert_allclose(obs[0, OBS_SLICES["last_actions"]], 3.0)
    tobs = build_observation(**{k: torch.as_tensor(v) for k, v in args.items()})
    np.testing.assert_allclose(tobs.numpy(), obs)
    args["clock"] = np.zeros((n, 3))
    with pytest.raises(ValueError, match="clock"):
        build_observation(**args)


def test_history_is_oldest_first():
    h = ObservationHistory(2, 3, obs_dim=2)
    h.reset(np.arange(2), np.zeros((2, 2)))
    h.push(np.ones((2, 2)))
    flat = h.push(np.full((2, 2), 2.0))
    np.testing.assert_allclose(flat[0], [0, 0, 1, 1, 2, 2])


def test_command_sampling_and_gait_clock():
    rng = np.random.default_rng(0)
    r = cmds.CommandRanges(gaits=["trot", "pace"])
    c = cmds.sample_commands(rng, 500, r)
    assert c.shape == (500, 15)
    assert c[:, 0].min() >= -1.0 and c[:, 0].max() <= 1.0
    assert set(map(tuple, c[:, 5:8])) == {(0.5, 0.0, 0.0), (0.0, 0.0, 0.5)}
    trot = c[c[:, 5] == 0.5][:1]
    feet = cmds.foot_indices(np.array([0.1]), trot)
    assert feet[0, 0] == pytest.approx(feet[0, 3]) and feet[0, 1] == pytest.approx(feet[0, 2])  # FL~RR, FR~RL
    assert abs(feet[0, 0] - feet[0, 1]) == pytest.approx(0.5)
    dc = cmds.desired_contact(feet, trot)
    assert np.all((dc >= 0) & (dc <= 1)) and dc[0, 1] > 0.9 and dc[0, 0] < 0.1
    np.testing.assert_allclose(cmds.desired_contact(torch.as_tensor(feet), torch.as_tensor(trot)).numpy(), dc,
                               atol=1e-6)
    with pytest.raises(ValueError, match="gaits"):
        cmds.CommandRanges(gaits=["gallop"])


def _state(n, vel, cmd):
    z3, z12, z4 = np.zeros((n, 3)), np.zeros((n, 12)), np.zeros((n, 4))
    commands = np.zeros((n, 15))
    commands[:, 0], commands[:, 4], commands[:, 5], commands[:, 8] = cmd, 3.0, 0.5, 0.5
    commands[:, 12:14] = 0.3, 0.45
    lin = z3.copy()
    lin[:, 0] = vel
    return RewardState(lin, z3, np.tile([0, 0, -1.0], (n, 1)), np.full(n, 0.3), z12, z12, z12, z12, z12, z12,
                       np.zeros((n, 4, 3)), np.full((n, 4), 0.022), np.zeros((n, 4, 3)), z4, z4, commands,
                       np.full((n, 4), 0.25), np.full((n, 4), 0.5))


def test_perfect_tracker_gets_higher_reward():
    good, bad = _state(4, 0.8, 0.8), _state(4, 0.0, 0.8)
    assert np.all(reward_tracking_lin_vel(good) > reward_tracking_lin_vel(bad))
    cfg = RewardConfig()
    tg, _ = compute_rewards(good, cfg, 0.02)
    tb, terms = compute_rewards(bad, cfg, 0.02)
    assert np.all(tg > tb) and np.all(tb >= 0)
    tt, _ = compute_rewards(RewardState(*[torch.as_tensor(v) for v in vars(bad).values()]), cfg, 0.02)
    np.testing.assert_allclose(tt.numpy(), tb, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown term"):
        RewardConfig(scales={"fly": 1.0})


def test_tracking_sigma_sets_how_much_a_small_speed_error_costs():
    """0.1 m/s slow: 96 % of the tracking term at legged_gym's 0.25, 90 % at 0.1; both engines read the config."""
    slow = _state(2, 0.9, 1.0)
    wide, tight = RewardConfig(), RewardConfig(tracking_sigma=0.1)
    _, tw = compute_rewards(slow, wide, 0.02)
    _, tt = compute_rewards(slow, tight, 0.02)
    scale = wide.scales["tracking_lin_vel"] * 0.02
    np.testing.assert_allclose(tw["tracking_lin_vel"] / scale, np.exp(-0.01 / 0.25), rtol=1e-9)
    np.testing.assert_allclose(tt["tracking_lin_vel"] / scale, np.exp(-0.01 / 0.1), rtol=1e-9)
    np.testing.assert_allclose(tt["tracking_ang_vel"] / (tight.scales["tracking_ang_vel"] * 0.02), 1.0)  # no yaw error
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match="tracking_sigma"):
            RewardConfig(tracking_sigma=bad)


def test_randomization_ranges():
    cfg = RandomizationConfig()
    p = sample_params(np.random.default_rng(0), 1000, cfg)
    for key in ("friction", "restitution", "added_mass", "motor_strength"):
        lo, hi = getattr(cfg, key)
        assert p[key].min() >= lo and p[key].max() <= hi and p[key].std() > 0
    assert set(np.unique(p["latency"])) == {0.0, 1.0}
    off = sample_params(np.random.default_rng(0), 5, RandomizationConfig(enabled=False))
    assert np.all(off["friction"] == 1.0) and np.all(off["latency"] == 0.0)
    priv = privileged_obs(p, np.ones((1000, 3)))
    assert priv.shape == (1000, 7) and np.allclose(priv[:, 4:], 2.0)
    with pytest.raises(ValueError, match="friction"):
        RandomizationConfig(friction=[2.0, 1.0])


def test_observed_command_constants_validate_and_replace_only_their_entries():
    from maa_go2.commands import COMMAND_NAMES, observed_commands, resolve_observed_commands

    fixed = resolve_observed_commands({"gait": "pronk", "body_height": 0.02})
    assert fixed == {"gait_phase": 0.0, "gait_offset": 0.0, "gait_bound": 0.0, "body_height": 0.02}
    c = np.arange(30, dtype=float).reshape(2, 15)
    seen = observed_commands(c, fixed)
    changed = [COMMAND_NAMES[i] for i in np.flatnonzero((seen != c).any(0))]
    assert sorted(changed) == sorted(fixed) and c[0, 5] == 5.0  # the input is not modified
    t = observed_commands(torch.as_tensor(c), fixed)
    np.testing.assert_allclose(t.numpy(), seen)
    assert observed_commands(c, {}) is c
    for bad, match in (({"lin_vel_x": 0.0}, "lin_vel_x"), ({"gait_frequency": 3.0}, "gait_frequency"),
                       ({"gait": "gallop"}, "gallop"), ({"body_height": float("nan")}, "finite")):
        with pytest.raises(ValueError, match=match):
            resolve_observed_commands(bad)


def test_style_specialist_config_loads_from_yaml(tmp_path):
    from maa_go2.train_config import load_train_config

    path = tmp_path / "s.yaml"
    path.write_text("train:\n  env:\n    fixed_observed_commands: {gait: trot, footswing_height: 0.08}\n")
    cfg = load_train_config(path)
    assert cfg.env.fixed_observed_commands == {"gait_phase": 0.5, "gait_offset": 0.0, "gait_bound": 0.0,
                                               "footswing_height": 0.08}
    path.write_text("train:\n  env:\n    fixed_observed_commands: {lin_vel_x: 1.0}\n")
    with pytest.raises(Exception, match="lin_vel_x"):
        load_train_config(path)


def test_gait_mismatch_scales_the_whole_reward_down_as_wtw():
    """Contact terms and jump have positive scales but non-positive values: they join r_neg (WTW's value-sign rule)."""
    cfg = RewardConfig()
    matched = _state(3, 0.8, 0.8)  # desired contact 0.5 everywhere, no foot force, feet still
    loaded = _state(3, 0.8, 0.8)
    loaded.foot_force = np.full((3, 4), 60.0)  # every swing foot carries load
    loaded.desired_contact = np.tile([0.0, 1.0, 1.0, 0.0], (3, 1))
    tm, terms_m = compute_rewards(matched, cfg, 0.02)
    tl, terms_l = compute_rewards(loaded, cfg, 0.02)
    assert np.all(terms_l["tracking_contacts_shaped_force"] < 0) and np.all(terms_m["jump"] <= 0)
    pos = terms_l["tracking_lin_vel"] + terms_l["tracking_ang_vel"]
    neg = sum(v for k, v in terms_l.items() if k not in ("tracking_lin_vel", "tracking_ang_vel"))
    np.testing.assert_allclose(tl, pos * np.exp(neg / cfg.sigma_rew_neg), rtol=1e-9)
    # two of four swing feet loaded at scale 4: exp(-0.5 * 4 * 0.02 / 0.02) = exp(-2) of the matched reward
    ratio = tl / tm
    assert np.all(ratio < np.exp(-1.9)) and np.all(tl > 0)
    for name, fn in (("force", reward_tracking_contacts_shaped_force), ("vel", reward_tracking_contacts_shaped_vel)):
        assert np.all(fn(matched) <= 0) and np.all(fn(loaded) >= -1), name
