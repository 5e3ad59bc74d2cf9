"""Parity of the Isaac Gym task with the MuJoCo engine: same states, commands and actions, same numbers.

The MuJoCo engine steps its physics; every physics step's state and sensor readings are recorded and replayed into
the Isaac stand-in (``tests/maa_go2/isaac_standin``) as that step's simulator output, so the Isaac task's own code
(PD law, contact bookkeeping, push, rewards, termination, curriculum, resample, reset, observation, privileged
vector, history) runs on exactly the states MuJoCo's code saw. Both engines draw from numpy generators with the same
seed in the same order (observation noise off), so randomization, reset and commands must agree too.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from maa_core.rotations import quat_to_rot
from maa_go2 import commands as cmds
from maa_go2 import observation
from maa_go2.commands import CommandRanges
from maa_go2.curriculum import CurriculumConfig
from maa_go2.engines import mujoco_engine
from maa_go2.env_config import EnvConfig
from maa_go2.randomization import RandomizationConfig

from .isaac_standin import activate, make_task

N = 6
FOOT_BODY = [4, 8, 12, 16]  #: stand-in asset: base, then per leg hip, thigh, calf, foot
THIGH_BODY = [2, 6, 10, 14]
CALF_BODY = [3, 7, 11, 15]


def env_config(**overrides) -> EnvConfig:
    """A short-episode task that resamples, pushes and times out within a dozen steps."""
    cfg = dict(num_envs=N, obs_noise=False, episode_length_s=0.2, resampling_time_s=0.1, history_len=3,
               commands=CommandRanges(gaits=["trot", "pace", "bound"], gait_frequency=[2.0, 4.0],
                                      lin_vel_x=[-1.0, 1.5], ang_vel_yaw=[-1.5, 1.5], body_height=[-0.05, 0.05],
                                      stance_width=[0.25, 0.35]),
               curriculum=CurriculumConfig(enabled=True),
               domain_rand=RandomizationConfig(push_interval_s=0.06, push_max_vel=0.5, num_model_variants=4,
                                               joint_damping=[0.0, 1.0], joint_friction=[0.0, 0.2],
                                               # limits low enough that the clamp acts on these small actions
                                               torque_limit_scale=[0.1, 0.3], actuation_delay_ms=[0.0, 20.0]))
    cfg.update(overrides)
    return EnvConfig(**cfg)


class Recorder:
    """Wraps ``mujoco.rollout``: records each physics step's state, sensor data and torques."""

    def __init__(self, real):
        self.real, self.frames = real, []

    def rollout(self, models, datas, initial_state, control, **kw):
        out = self.real.rollout(models, datas, initial_state, control, **kw)
        self.frames.append((kw["state"][:, 0].copy(), kw["sensordata"][:, 0].copy(), np.array(control[:, 0])))
        return out


def replay_into(task, recorder: Recorder, torques: list):
    """``on_simulate`` hook: the stand-in's physics step returns MuJoCo's recorded step (world offset by the env
    origins); the torques the task sent are kept for comparison."""
    origins = task.env_origins.double().numpy()

    def hook(sim):
        st, sd, tau = recorder.frames.pop(0)
        qd_used = sim.dof_at_step_start.view(N, 12, 2)[..., 1].double().numpy()  # what the torques were computed at
        torques.append((sim.actuation.view(N, 12).double().numpy().copy(), tau, qd_used))
        qpos, qvel = st[:, 1:20], st[:, 20:38]
        rot = quat_to_rot(qpos[:, 3:7])
        root = np.zeros((N, 13))
        root[:, :3] = qpos[:, :3] + origins
        root[:, 3:7] = qpos[:, [4, 5, 6, 3]]
        root[:, 7:10] = qvel[:, :3]
        root[:, 10:13] = np.einsum("nij,nj->ni", rot, qvel[:, 3:6])  # MuJoCo's angular velocity is local
        sim.root[:] = torch.as_tensor(root, dtype=torch.float)
        dof = sim.dof.view(N, 12, 2)
        dof[..., 0] = torch.as_tensor(qpos[:, 7:19], dtype=torch.float)
        dof[..., 1] = torch.as_tensor(qvel[:, 6:18], dtype=torch.float)
        body, contact = sim.body.view(N, -1, 13), sim.contact.view(N, -1, 3)
        body[:, 0] = sim.root
        body[:, FOOT_BODY, :3] = torch.as_tensor(sd[:, 0:12].reshape(N, 4, 3) + origins[:, None], dtype=torch.float)
        body[:, FOOT_BODY, 7:10] = torch.as_tensor(sd[:, 12:24].reshape(N, 4, 3), dtype=torch.float)
        contact.zero_()
        contact[:, FOOT_BODY, 2] = torch.as_tensor(sd[:, 24:28], dtype=torch.float)
        contact[:, THIGH_BODY, 2] = torch.as_tensor(sd[:, 28:32], dtype=torch.float)
        contact[:, CALF_BODY, 2] = torch.as_tensor(sd[:, 33:37], dtype=torch.float)
        contact[:, 0, 2] = torch.as_tensor(sd[:, 32], dtype=torch.float)

    return hook


@pytest.fixture
def pair(monkeypatch):
    """``make(env_cfg, seed) -> (mujoco env, isaac task, recorder, torques)``."""
    with activate() as task_module:
        from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config

        def make(cfg: EnvConfig, seed: int = 3):
            recorder = Recorder(mujoco_engine.rollout)
            monkeypatch.setattr(mujoco_engine, "rollout", recorder)
            mj = mujoco_engine.MujocoGo2Env(cfg, seed=seed)
            icfg = apply_env_config(Go2WTWCfg(), cfg)
            icfg.env.num_envs, icfg.seed = cfg.num_envs, seed
            task = make_task(task_module, icfg)
            torques: list = []
            task.sim.on_simulate = replay_into(task, recorder, torques)
            return mj, task, recorder, torques

        yield make


def close(a, b, atol=2e-4, rtol=1e-4, what=""):
    a = a.detach().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=np.float64)
    b = b.detach().double().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, dtype=np.float64)
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def assert_same_reset(mj, task):
    for key in mj.params:
        np.testing.assert_array_equal(task.params[key], mj.params[key], err_msg=key)
    close(task.commands, mj.commands, atol=1e-6, what="commands")
    close(task.dof_pos, mj.qpos[:, 7:19], atol=1e-6, what="joint positions")
    close(task.root_states[:, 2], mj.qpos[:, 2], atol=1e-6, what="base height")
    close(task.root_states[:, 7:13], np.zeros((N, 6)), what="base velocity")
    close(task.gait_index, mj.gait_index, atol=1e-6, what="gait index")


def test_randomization_reset_and_first_observation_match(pair):
    mj, task, _, _ = pair(env_config())
    assert_same_reset(mj, task)
    close(task.obs_buf, mj.obs, atol=1e-5, what="obs after reset")
    close(task.privileged_obs_buf, mj.privileged(), atol=1e-5, what="privileged after reset")
    close(task.get_obs_history(), mj.get_obs_history(), atol=1e-5, what="history after reset")
    assert len(set(mj.params["friction"])) > 1 and set(mj.params["latency"]) == {0.0, 1.0}


def test_friction_restitution_and_mass_reach_the_simulator_at_every_reset(pair):
    mj, task, _, _ = pair(env_config())
    before = task.params_numpy()
    for i, (env, actor) in enumerate(zip(task.envs, task.actor_handles)):
        shapes = task.gym.get_actor_rigid_shape_properties(env, actor)
        assert {round(p.friction, 6) for p in shapes} == {round(float(mj.params["friction"][i]), 6)}
        assert {round(p.restitution, 6) for p in shapes} == {round(float(mj.params["restitution"][i]), 6)}
        mass = task.gym.get_actor_rigid_body_properties(env, actor)[0].mass
        assert mass == pytest.approx(task.default_base_mass + mj.params["added_mass"][i])
    task.reset_idx(torch.tensor([1, 4]))
    after = task.params_numpy()
    changed = [k for k in ("friction", "motor_strength", "kp_factor") if np.any(after[k][[1, 4]] != before[k][[1, 4]])]
    assert changed == ["friction", "motor_strength", "kp_factor"]
    np.testing.assert_array_equal(after["friction"][[0, 2, 3, 5]], before["friction"][[0, 2, 3, 5]])
    shapes = task.gym.get_actor_rigid_shape_properties(task.envs[4], task.actor_handles[4])
    assert shapes[0].friction == pytest.approx(after["friction"][4])


def _disturb(mj):
    """Env 0 starts low (falls on height), env 1 rolled over (falls on tilt), env 2 turned 90 deg (yaw frame)."""
    mj.state[0, 3] = 0.06
    mj.state[1, 4:8] = [np.cos(0.9), np.sin(0.9), 0.0, 0.0]
    mj.state[2, 4:8] = [np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)]


@pytest.mark.parametrize("curriculum", [CurriculumConfig(enabled=True),
                                        CurriculumConfig(enabled=True, gaits_initial=1, gait_contact_match=0.3,
                                                         gait_ema=1.0, initial_gait_frequency=[2.5, 3.5],
                                                         full_gait_frequency_after_env_steps=5 * N),
                                        CurriculumConfig(enabled=True, error_priority=1.0, error_ema=1.0)],
                         ids=["velocity", "velocity+gaits+frequency stage", "error-weighted draws"])
@pytest.mark.parametrize("single_axis_fraction", [0.0, 0.5], ids=["all axes", "single-axis commands"])
def test_steps_give_the_same_torques_rewards_terminations_observations(pair, curriculum, single_axis_fraction):
    commands = dataclasses.replace(env_config().commands, single_axis_fraction=single_axis_fraction)
    mj, task, recorder, torques = pair(env_config(curriculum=curriculum, commands=commands))
    assert task.sampler.ranges == mj.sampler.ranges  # every command setting reaches the Isaac task
    if curriculum.error_priority:  # unequal cell errors over an open box, so the weighted draws are not uniform ones
        errors = np.random.default_rng(1).uniform(0.1, 2.0, mj.sampler.curriculum.cell_error.shape)
        for sampler in (mj.sampler, task.sampler):
            sampler.curriculum.weights[:] = 1.0
            sampler.curriculum.cell_error = errors.copy()
    _disturb(mj)
    rng = np.random.default_rng(0)
    seen = {"fell": 0, "time_out": 0, "single_axis": 0}
    for step in range(13):
        actions = rng.normal(0.0, 0.5, (N, 12))
        obs, priv, rew, done, info = mj.step(actions)
        obs_i, priv_i, rew_i, done_i, extras = task.step(torch.as_tensor(actions, dtype=torch.float))
        assert not recorder.frames, "every recorded MuJoCo physics step is replayed"
        for ours, theirs, _ in torques[-4:]:
            close(ours, theirs, atol=2e-3, what=f"PD torques, step {step}")
        close(rew_i, rew, atol=1e-5, rtol=1e-3, what=f"reward, step {step}")
        np.testing.assert_array_equal(done_i.numpy(), done, err_msg=f"done, step {step}")
        np.testing.assert_array_equal(extras["time_outs"].numpy(), info["time_outs"], err_msg=f"time-outs {step}")
        np.testing.assert_array_equal(extras["fell"].numpy(), info["fell"], err_msg=f"falls, step {step}")
        close(obs_i, obs, atol=5e-4, what=f"obs, step {step}")
        close(priv_i, mj.privileged(), atol=5e-4, what=f"privileged, step {step}")
        close(task.get_obs_history(), info["obs_history"], atol=5e-4, what=f"history, step {step}")
        close(task.commands, mj.commands, atol=1e-6, what=f"commands, step {step}")
        for key in mj.params:
            np.testing.assert_array_equal(task.params[key], mj.params[key], err_msg=f"{key}, step {step}")
        seen["fell"] += int(info["fell"].sum())
        seen["time_out"] += int(info["time_outs"].sum())
        seen["single_axis"] += int(((mj.commands[:, :3] == 0.0).sum(1) == 2).sum())
    assert seen["fell"] >= 2 and seen["time_out"] >= 1, seen
    assert seen["single_axis"] > 0 or not single_axis_fraction, seen
    if mj.sampler.curriculum is not None:
        np.testing.assert_array_equal(task.sampler.curriculum.weights, mj.sampler.curriculum.weights)
        np.testing.assert_array_equal(task.sampler.curriculum.cell_error, mj.sampler.curriculum.cell_error)
        close(task.sampler.err_sum, mj.sampler.err_sum, atol=1e-4)  # tracking errors and contact match
    if curriculum.gaits_initial:  # segments here are shorter than a curriculum update needs: the inputs are compared
        assert mj.sampler.err_sum[:, 2].sum() > 0 and mj.sampler.gaits_open() == task.sampler.gaits_open() == 1


def test_engine_joint_damping_is_the_model_damping_in_mujoco_and_an_explicit_torque_in_isaac(pair):
    """``domain_rand.engine_joint_damping``: one value per model variant, the same in both engines. MuJoCo's variant
    models carry it as ``dof_damping`` (its integrator applies it; the control torques leave it out); the Isaac task
    adds ``-d qd`` to its explicit torques. Both count it in the torque penalty, so the rewards still match."""
    dr = dataclasses.replace(env_config().domain_rand, engine_joint_damping=[0.5, 1.5])
    mj, task, recorder, torques = pair(env_config(domain_rand=dr))
    assert_same_reset(mj, task)
    d = mj.params["engine_joint_damping"]
    assert 0.5 <= d.min() and d.max() <= 1.5 and len(set(d)) > 1
    for model, value in zip(mj.models, d):
        np.testing.assert_allclose(model.dof_damping[6:], mj.base_model.dof_damping[6:] + value)
    rng = np.random.default_rng(0)
    for step in range(6):
        d = mj.params["engine_joint_damping"].copy()
        actions = rng.normal(0.0, 0.5, (N, 12))
        _, _, rew, _, _ = mj.step(actions)
        _, _, rew_i, _, _ = task.step(torch.as_tensor(actions, dtype=torch.float))
        for ours, theirs, qd in torques[-4:]:
            close(ours, theirs - d[:, None] * qd, atol=2e-3, what=f"PD torques with engine damping, step {step}")
        assert np.abs(torques[-1][2]).max() > 0.5  # the joints move, so the damping term is not zero
        close(rew_i, rew, atol=1e-5, rtol=1e-3, what=f"reward, step {step}")
        for key in mj.params:
            np.testing.assert_array_equal(task.params[key], mj.params[key], err_msg=f"{key}, step {step}")


def test_tracking_sigma_reaches_both_engines_rewards(pair):
    """A YAML ``rewards.tracking_sigma`` (legged_gym's ``rewards.tracking_sigma``) gives the same tracking terms in both
    engines, and other ones than the default width."""
    from maa_go2.rewards import RewardConfig

    tight = RewardConfig(scales={"tracking_lin_vel": 1.0, "tracking_ang_vel": 0.5}, tracking_sigma=0.05)
    mj, task, _, _ = pair(env_config(rewards=tight))
    wide, _, _, _ = pair(env_config(rewards=dataclasses.replace(tight, tracking_sigma=0.25)))
    assert task.reward_cfg.tracking_sigma == 0.05 and task.cfg.rewards.tracking_sigma == 0.05
    actions = np.random.default_rng(3).normal(0.0, 0.5, (N, 12))
    _, _, rew, _, _ = mj.step(actions)
    _, _, rew_wide, _, _ = wide.step(actions)
    _, _, rew_i, _, _ = task.step(torch.as_tensor(actions, dtype=torch.float))
    close(rew_i, rew, atol=1e-5, rtol=1e-3, what="reward with tracking_sigma 0.05")
    assert np.all(rew < rew_wide)  # the same robots and errors cost more under the tighter width


def test_reward_inputs_match_including_the_yaw_frame_after_a_turn(pair):
    """Feet relative to the base in the yaw frame (the Raibert term), substep-max contact forces, body velocities."""
    mj, task, _, _ = pair(env_config(domain_rand=RandomizationConfig(enabled=False)))
    _disturb(mj)
    actions = np.full((N, 12), 0.2)
    _, _, _, done, _ = mj.step(actions)
    task.step(torch.as_tensor(actions, dtype=torch.float))
    kin = mj._kinematics()
    s = task.reward_state()
    keep = np.flatnonzero(~done)
    assert 2 in keep
    pairs = {"foot_pos_body": kin["foot_pos_body"], "foot_height": kin["foot_height"], "foot_vel": kin["foot_vel"],
             "foot_force": kin["foot_force"], "collision_force": kin["collision_force"],
             "base_lin_vel": kin["base_lin_vel"], "base_ang_vel": kin["base_ang_vel"],
             "projected_gravity": kin["projected_gravity"], "base_height": kin["base_height"]}
    for name, theirs in pairs.items():
        close(getattr(s, name)[keep], theirs[keep], atol=2e-4, what=name)
    world = (task.rigid_body_states[2, task.feet_indices, :2] - task.root_states[2, None, :2]).numpy()
    assert not np.allclose(world, s.foot_pos_body[2, :, :2].numpy(), atol=0.05), "env 2 is turned: frames differ"


def test_contact_forces_are_the_maximum_over_the_physics_steps(pair):
    """A foot that touched down only in the first of the four physics steps still counts as loaded."""
    mj, task, recorder, _ = pair(env_config(domain_rand=RandomizationConfig(enabled=False)))
    replay = task.sim.on_simulate
    calls = []

    def spike_first_step(sim):
        replay(sim)
        calls.append(len(calls))
        contact = sim.contact.view(N, -1, 3)
        contact[:, FOOT_BODY, 2] = 80.0 if len(calls) == 1 else 0.0
        contact[:, THIGH_BODY] = 0.0
        contact[:, 11, 0] = 7.0 if len(calls) == 2 else 0.0  # RL calf, second step only

    task.sim.on_simulate = spike_first_step
    mj.step(np.zeros((N, 12)))
    task.step(torch.zeros(N, 12))
    assert len(calls) == 4
    close(task.foot_force, np.full((N, 4), 80.0), what="max foot force over the substeps")
    close(task.leg_collision[:, 2], np.full(N, 7.0), what="calf contact counts for its leg")


def test_pushes_add_to_the_velocity(pair):
    """A push with zero amplitude leaves the velocity as it was (a push that set the velocity would zero it)."""
    cfg = env_config(domain_rand=RandomizationConfig(push_interval_s=0.02, push_max_vel=0.0, latency_prob=0.0))
    mj, task, _, _ = pair(cfg)
    task.sim.on_simulate = None  # the stand-in's own dynamics: the base keeps its velocity
    task.root_states[:, 7:9] = torch.tensor([0.4, -0.3])
    task.gym.set_actor_root_state_tensor(task.sim, _unwrap(task.root_states))
    task.step(torch.zeros(N, 12))
    close(task.root_states[:, 7:9], np.tile([0.4, -0.3], (N, 1)), atol=1e-6, what="velocity after a zero push")
    assert "set_actor_root_state_tensor_indexed" in task.gym.calls


def _unwrap(t):
    from isaacgym import gymtorch

    return gymtorch.unwrap_tensor(t)


def test_a_style_specialist_observes_the_same_constants_in_both_engines(pair):
    """With ``fixed_observed_commands`` both engines show the actor the constants (and the clock of the observed
    gait) while the rewards follow the sampled pronk/bound/pace commands."""
    fixed = {"gait": "trot", "body_height": 0.0, "footswing_height": 0.08}
    mj, task, recorder, _ = pair(env_config(fixed_observed_commands=fixed,
                                            commands=CommandRanges(gaits=["pronk", "bound", "pace"],
                                                                   body_height=[-0.05, -0.02],
                                                                   footswing_height=[0.1, 0.12])))
    rng = np.random.default_rng(1)
    scales = observation.COMMAND_SCALES
    for step in range(4):
        actions = rng.normal(0.0, 0.3, (N, 12))
        obs, _, rew, _, _ = mj.step(actions)
        obs_i, _, rew_i, _, _ = task.step(torch.as_tensor(actions, dtype=torch.float))
        close(obs_i, obs, atol=5e-4, what=f"obs, step {step}")
        close(rew_i, rew, atol=1e-5, rtol=1e-3, what=f"reward, step {step}")
        seen = obs[:, observation.obs_slices()["commands"]] / scales
        np.testing.assert_allclose(seen[:, 5:8], [[0.5, 0.0, 0.0]] * N, atol=1e-6)  # the trot the actor sees
        np.testing.assert_allclose(seen[:, [3, 9]], [[0.0, 0.08]] * N, atol=1e-6)
        assert np.all(mj.commands[:, 3] <= -0.02) and not np.any(np.all(mj.commands[:, 5:8] == [0.5, 0, 0], axis=1))
        trot = cmds.observed_commands(mj.commands, mj.cfg.fixed_observed_commands)
        clock = obs[:, observation.obs_slices()["clock"]]
        np.testing.assert_allclose(clock, cmds.clock_inputs(cmds.foot_indices(mj.gait_index, trot)), atol=1e-5)
        true_clock = cmds.clock_inputs(cmds.foot_indices(mj.gait_index, mj.commands))
        assert np.abs(clock - true_clock).max() > 0.5  # the sampled gaits' clocks differ from the observed trot's


def test_staggered_episode_clocks_time_out_and_resample_alike(pair):
    """``stagger_episodes`` (called by the training loop on every start and resume) gives both engines the same
    spread-out episode clocks, so time-outs and command resamples then happen in different steps for different envs."""
    mj, task, _, _ = pair(env_config(domain_rand=RandomizationConfig(enabled=False)))
    mj.stagger_episodes(11)
    task.stagger_episodes(11)
    np.testing.assert_array_equal(task.episode_length_buf.numpy(), mj.episode_step)
    rng = np.random.default_rng(1)
    timeout_steps = set()
    for step in range(12):
        actions = rng.normal(0.0, 0.2, (N, 12))
        _, _, _, done, info = mj.step(actions)
        _, _, _, done_i, extras = task.step(torch.as_tensor(actions, dtype=torch.float))
        np.testing.assert_array_equal(extras["time_outs"].numpy(), info["time_outs"], err_msg=f"time-outs {step}")
        np.testing.assert_array_equal(done_i.numpy(), done, err_msg=f"done, step {step}")
        close(task.commands, mj.commands, atol=1e-6, what=f"commands, step {step}")
        timeout_steps.update([step] if info["time_outs"].any() else [])
    assert len(timeout_steps) >= 3, f"time-outs were not spread over the episode: steps {sorted(timeout_steps)}"
