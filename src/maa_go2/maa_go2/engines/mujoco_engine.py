"""Batched Go2 walk-these-ways environment on MuJoCo (CPU).

One ``MjModel`` per environment (so friction/restitution/mass can be randomized per env) and one ``MjData`` per
worker thread; every physics step of all envs is one ``mujoco.rollout.rollout`` call (C loop, GIL released), the
PD controller (``maa_go2.control``) runs vectorized in numpy between physics steps (200 Hz), the policy at 50 Hz.
Full-physics states ``[N, 38]`` (time, qpos 19, qvel 18) are the only per-env storage.
"""
from __future__ import annotations

import copy
from importlib import resources

import mujoco
import numpy as np
from mujoco import rollout

from maa_core.rotations import quat_to_rot
from maa_go2 import commands as cmds
from maa_go2.control import (
    DECIMATION,
    DEFAULT_JOINT_POS,
    POLICY_DT,
    SIM_DT,
    action_to_target,
    passive_torque,
    pd_torque,
)
from maa_go2.curriculum import CommandSampler
from maa_go2.env_config import EnvConfig, staggered_episode_steps
from maa_go2.joint_order import JOINT_NAMES
from maa_go2.observation import NOISE_VECTOR, OBS_DIM, ObservationHistory, build_observation
from maa_go2.randomization import (
    PRIV_DIM,
    VARIANT_PARAMS,
    delay_substeps,
    privileged_obs,
    restitution_to_dampratio,
    sample_params,
)
from maa_go2.rewards import RewardState, compute_rewards

STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS
BASE_MASS = 6.921
FEET = ("FL", "FR", "RL", "RR")


def go2_xml_path() -> str:
    """Path of the packaged Go2 MJCF."""
    return str(resources.files("maa_go2") / "assets" / "go2.xml")


def load_model(xml_path: str | None = None) -> mujoco.MjModel:
    return check_joint_order(mujoco.MjModel.from_xml_path(xml_path or go2_xml_path()))


def check_joint_order(model: mujoco.MjModel) -> mujoco.MjModel:
    """Return ``model`` if its 12 hinge joints follow :data:`JOINT_NAMES`; raise ValueError otherwise."""
    names = tuple(model.joint(i + 1).name for i in range(model.njnt - 1))
    if names != JOINT_NAMES:
        raise ValueError(f"MJCF joint order {names} differs from joint_order.JOINT_NAMES {JOINT_NAMES}")
    return model


class MujocoGo2Env:
    """``N`` Go2 envs. ``reset() -> obs``; ``step(actions [N,12]) -> obs [N,70], priv [N,7], reward [N], done [N],
    info`` with ``info["obs_history"] [N, H*70]``, ``info["time_outs"] [N]`` and diagnostics. Finished envs are
    reset automatically (their returned obs is the first of the new episode)."""

    def __init__(self, cfg: EnvConfig, seed: int = 0, xml_path: str | None = None, nthread: int = 1,
                 base_model: mujoco.MjModel | None = None, physics_substeps: int = 1):
        """``physics_substeps``: MuJoCo steps of ``SIM_DT / physics_substeps`` per physics step of ``SIM_DT``, each
        with the torque of that physics step. 1 (training and evaluation) or more for a convergence check: a figure
        that changes when the integrator's step shrinks measures the discretization, not the robot."""
        if not isinstance(physics_substeps, (int, np.integer)) or isinstance(physics_substeps, bool) \
                or physics_substeps < 1:
            raise ValueError(f"physics_substeps: expected an integer >= 1, got {physics_substeps!r}")
        self.cfg, self.num_envs = cfg, cfg.num_envs
        self.rng = np.random.default_rng(seed)
        self.base_model = check_joint_order(base_model) if base_model is not None else load_model(xml_path)
        self.physics_substeps = int(physics_substeps)
        if self.physics_substeps > 1:
            self.base_model = copy.copy(self.base_model)  # the caller's model keeps its step
            self.base_model.opt.timestep = self.base_model.opt.timestep / self.physics_substeps
        n = self.num_envs
        #: model-error knobs (evaluation only, :mod:`maa_go2.mismatch`): actuation delay inside a policy step in
        #: physics substeps of SIM_DT (0..DECIMATION), and a factor on the motor torque limits, both ``[N]``, on top
        #: of the domain randomization's ``actuation_delay_ms`` and ``torque_limit_scale``
        self.extra_delay_substeps = np.zeros(n, dtype=np.int64)
        self.torque_limit_scale = np.ones(n)
        self.models = [self.base_model] * n
        self.datas = [mujoco.MjData(self.base_model) for _ in range(max(1, nthread))]
        m = self.base_model
        self.foot_geoms = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"{f}_foot_geom") for f in FEET]
        self.base_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "base")
        self.nstate = mujoco.mj_stateSize(m, STATE_SPEC)
        self.max_steps = int(round(cfg.episode_length_s / POLICY_DT))
        self.resample_steps = max(1, int(round(cfg.resampling_time_s / POLICY_DT)))
        self.push_steps = max(1, int(round(cfg.domain_rand.push_interval_s / POLICY_DT)))
        self.state = np.zeros((n, self.nstate))
        self._st = np.zeros((n, self.physics_substeps, self.nstate))
        self._sd = np.zeros((n, self.physics_substeps, m.nsensordata))
        self.sensordata = np.zeros((n, m.nsensordata))
        self.actions = np.zeros((n, 12))
        self.last_actions = np.zeros((n, 12))
        self.last_last_actions = np.zeros((n, 12))
        self.commands = np.zeros((n, cmds.NUM_COMMANDS))
        self.command_override: np.ndarray | None = None  #: fixed commands [N,15] (evaluation); no resampling
        self.sampler = CommandSampler(cfg.commands, cfg.curriculum, self.rng, n)  #: commands + curriculum
        self.gait_index = np.zeros(n)
        self.episode_step = np.zeros(n, dtype=np.int64)
        self.params = sample_params(self.rng, n, cfg.domain_rand)
        self._make_variants()
        self.history = ObservationHistory(n, cfg.history_len)
        self.episode_sums: dict[str, np.ndarray] = {}
        self.pushes_enabled = True
        self.obs = np.zeros((n, OBS_DIM), dtype=np.float32)
        self.torques = np.zeros((n, 12))
        self.last_applied = np.zeros((n, 12))  #: the actions of the previous physics step (for sub-step delay)
        self.reset()

    def _make_variants(self) -> None:
        """Model variants for the per-model parameters (friction, restitution, added mass, the engine-integrated joint
        damping): each env uses one of ``domain_rand.num_model_variants`` randomized model copies, drawn at every
        reset (cache-friendly)."""
        dr = self.cfg.domain_rand
        nv = dr.num_model_variants if dr.enabled else 1
        self.variant_params = sample_params(self.rng, nv, dr)
        self.variants = []
        damp = restitution_to_dampratio(self.variant_params["restitution"])
        for j in range(nv):
            mod = copy.copy(self.base_model)
            mod.geom_friction[self.foot_geoms, 0] = self.variant_params["friction"][j]
            mod.geom_solref[self.foot_geoms, 1] = damp[j]
            mod.body_mass[self.base_body] = BASE_MASS + self.variant_params["added_mass"][j]
            mod.dof_damping[6:] = self.base_model.dof_damping[6:] + self.variant_params["engine_joint_damping"][j]
            self.variants.append(mod)
        self.variant_of_env = np.zeros(self.num_envs, dtype=np.int64)

    # ------------------------------------------------------------------ state access
    @property
    def qpos(self):
        return self.state[:, 1:20]

    @property
    def qvel(self):
        return self.state[:, 20:38]

    # ------------------------------------------------------------------ reset
    def reset(self, env_ids: np.ndarray | None = None) -> np.ndarray:
        """Reset ``env_ids`` (all if None): new randomized params, commands, pose. Returns obs ``[N,70]``."""
        ids = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids, dtype=np.int64)
        if ids.size == 0:
            return self.obs
        if ids.min() < 0 or ids.max() >= self.num_envs:
            raise IndexError(f"env_ids must be in [0, {self.num_envs}), got range [{ids.min()}, {ids.max()}]")
        k = ids.size
        new = sample_params(self.rng, k, self.cfg.domain_rand)
        for key, val in new.items():
            self.params[key][ids] = val
        var = self.rng.integers(0, len(self.variants), size=k)
        self.variant_of_env[ids] = var
        for key in VARIANT_PARAMS:
            self.params[key][ids] = self.variant_params[key][var]
        for j, i in enumerate(ids):
            self.models[i] = self.variants[var[j]]
        st = np.zeros((k, self.nstate))
        st[:, 3] = self.cfg.init_height
        st[:, 4] = 1.0
        st[:, 8:20] = DEFAULT_JOINT_POS + self.rng.uniform(-1, 1, (k, 12)) * self.cfg.init_joint_noise
        self.state[ids] = st
        self.sensordata[ids] = 0.0
        for buf in (self.actions, self.last_actions, self.last_last_actions, self.torques, self.last_applied):
            buf[ids] = 0.0
        self.episode_step[ids] = 0
        self.gait_index[ids] = 0.0
        self._resample(ids, completed=False)
        obs = self._observe(ids)
        self.obs[ids] = obs
        self.history.reset(ids, obs)
        for v in self.episode_sums.values():
            v[ids] = 0.0
        return self.obs

    def stagger_episodes(self, seed: int) -> None:
        """Spread the envs' episode clocks over the episode (:func:`maa_go2.env_config.staggered_episode_steps`)."""
        self.episode_step[:] = staggered_episode_steps(self.num_envs, self.max_steps, seed)

    def _resample(self, ids: np.ndarray, completed: bool = True) -> None:
        self.sampler.finish(ids, self.commands[ids], completed)
        if self.command_override is not None:
            self.commands[ids] = self.command_override[ids]
        else:
            self.commands[ids] = self.sampler.sample(ids.size)

    def set_commands(self, commands: np.ndarray | None) -> None:
        """Fix the commands of every env to ``commands [N,15]`` (None: back to random sampling)."""
        if commands is not None:
            commands = np.asarray(commands, dtype=np.float64)
            if commands.shape != (self.num_envs, cmds.NUM_COMMANDS):
                raise ValueError(f"expected commands [{self.num_envs}, {cmds.NUM_COMMANDS}], "
                                 f"got {list(commands.shape)}")
            self.commands[:] = commands
        self.command_override = commands

    # ------------------------------------------------------------------ kinematics
    def _kinematics(self, ids=slice(None)) -> dict:
        s = self.state[ids]
        rot = quat_to_rot(s[:, 4:8])
        sd = self.sensordata[ids]
        n = s.shape[0]
        yaw = np.arctan2(rot[:, 1, 0], rot[:, 0, 0])
        cy, sy = np.cos(yaw), np.sin(yaw)
        rel = sd[:, 0:12].reshape(n, 4, 3) - s[:, None, 1:4]
        foot_body = np.stack([cy[:, None] * rel[..., 0] + sy[:, None] * rel[..., 1],
                              -sy[:, None] * rel[..., 0] + cy[:, None] * rel[..., 1], rel[..., 2]], -1)
        return {"rot": rot, "base_lin_vel": np.einsum("nji,nj->ni", rot, s[:, 20:23]),
                "base_ang_vel": s[:, 23:26].copy(), "projected_gravity": -rot[:, 2, :],
                "base_height": s[:, 3].copy(), "q": s[:, 8:20], "qd": s[:, 26:38], "foot_pos_body": foot_body,
                "foot_height": sd[:, 2:12:3].copy(), "foot_vel": sd[:, 12:24].reshape(n, 4, 3),
                "foot_force": sd[:, 24:28], "collision_force": np.maximum(sd[:, 28:32], sd[:, 33:37]),
                "base_force": sd[:, 32]}

    def _observe(self, ids=slice(None)) -> np.ndarray:
        kin = self._kinematics(ids)
        seen = cmds.observed_commands(self.commands[ids], self.cfg.fixed_observed_commands)
        feet = cmds.foot_indices(self.gait_index[ids], seen)
        obs = build_observation(kin["projected_gravity"], seen, kin["q"], kin["qd"], self.actions[ids],
                                self.last_actions[ids], cmds.clock_inputs(feet)).astype(np.float32)
        if self.cfg.obs_noise:
            obs += (self.rng.uniform(-1, 1, obs.shape) * NOISE_VECTOR).astype(np.float32)
        return obs

    def privileged(self) -> np.ndarray:
        """``[N, 7]`` privileged observation (friction, restitution, added mass, motor strength, 2x body vel)."""
        return privileged_obs(self.params, self._kinematics()["base_lin_vel"])

    # ------------------------------------------------------------------ step
    def _physics(self, actions: np.ndarray) -> None:
        p = self.params
        target = action_to_target(actions)
        kp = self.cfg.kp * p["kp_factor"][:, None]
        kd = self.cfg.kd * p["kd_factor"][:, None]
        strength = p["motor_strength"][:, None]
        damping, friction = p["joint_damping"][:, None], p["joint_friction"][:, None]
        force_max = np.zeros((self.num_envs, 13))
        delay = delay_substeps(p["actuation_delay_ms"], self.extra_delay_substeps)
        delayed = delay > 0
        previous = action_to_target(self.last_applied) if delayed.any() else target
        limit = (p["torque_limit_scale"] * self.torque_limit_scale)[:, None]
        for i in range(DECIMATION):
            tgt = np.where((i < delay)[:, None], previous, target) if delayed.any() else target
            qd = self.state[:, 26:38].copy()
            tau = pd_torque(tgt, self.state[:, 8:20], qd, kp, kd, strength, limit, damping, friction)
            k = self.physics_substeps
            control = np.repeat(tau[:, None, :], k, axis=1) if k > 1 else tau[:, None, :]
            rollout.rollout(self.models, self.datas, self.state, control, nstep=k, state=self._st,
                            sensordata=self._sd, skip_checks=True)
            self.state[:] = self._st[:, -1]
            force_max = np.maximum(force_max, self._sd[:, :, 24:37].max(axis=1))
        self.sensordata[:] = self._sd[:, -1]
        self.sensordata[:, 24:37] = force_max  # contact forces: max over the 4 physics steps (and their sub-steps)
        self.last_applied[:] = actions
        # the model's own damping (engine_joint_damping) acts on the joints too: it counts in the torque penalty as in
        # Isaac Gym, where it is an explicit torque
        self.torques[:] = tau + passive_torque(qd, p["engine_joint_damping"][:, None])

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, 12):
            raise ValueError(f"expected actions [{self.num_envs}, 12], got {list(actions.shape)}")
        if not np.all(np.isfinite(actions)):
            raise ValueError("actions contain NaN/inf")
        actions = np.clip(actions, -self.cfg.clip_actions, self.cfg.clip_actions)
        applied = np.where(self.params["latency"][:, None] > 0, self.actions, actions)
        self.last_last_actions[:] = self.last_actions
        self.last_actions[:] = self.actions
        self.actions[:] = actions
        self._physics(applied)
        self.episode_step += 1
        self.gait_index = cmds.advance_gait(self.gait_index, self.commands, POLICY_DT)
        if self.pushes_enabled and self.cfg.domain_rand.enabled:
            push = (self.episode_step % self.push_steps) == 0
            if push.any():
                v = self.cfg.domain_rand.push_max_vel
                self.state[push, 20:22] += self.rng.uniform(-v, v, (int(push.sum()), 2))
        kin = self._kinematics()
        feet = cmds.foot_indices(self.gait_index, self.commands)
        rs = RewardState(kin["base_lin_vel"], kin["base_ang_vel"], kin["projected_gravity"], kin["base_height"],
                         kin["q"], kin["qd"], self.torques, self.actions, self.last_actions, self.last_last_actions,
                         kin["foot_pos_body"], kin["foot_height"], kin["foot_vel"], kin["foot_force"],
                         kin["collision_force"], self.commands, feet, cmds.desired_contact(feet, self.commands))
        reward, terms = compute_rewards(rs, self.cfg.rewards, POLICY_DT)
        contact_match = ((kin["foot_force"] > 1.0) == (rs.desired_contact > 0.5)).mean(1)
        for name, val in terms.items():
            self.episode_sums.setdefault(name, np.zeros(self.num_envs))
            self.episode_sums[name] += val
        fell = (kin["base_force"] > 1.0) | (kin["projected_gravity"][:, 2] > self.cfg.fall_gravity_z) | \
            (kin["base_height"] < self.cfg.fall_height) | ~np.all(np.isfinite(self.state), axis=1)
        time_out = self.episode_step >= self.max_steps
        done = fell | time_out
        self.sampler.track(self.commands, kin["base_lin_vel"], kin["base_ang_vel"], contact_match)
        finished = np.flatnonzero(time_out & ~fell)
        if finished.size:  # a segment that ran to the episode's end counts like one ended by a resample
            self.sampler.finish(finished, self.commands[finished], completed=True)
        priv = privileged_obs(self.params, kin["base_lin_vel"])
        info = {"time_outs": time_out & ~fell, "fell": fell, "base_lin_vel": kin["base_lin_vel"],
                "base_ang_vel": kin["base_ang_vel"], "torques": self.torques.copy(), "dof_vel": kin["qd"].copy(),
                "foot_force": kin["foot_force"].copy(), "commands": self.commands.copy(),
                "contact_match": contact_match, "base_height": kin["base_height"].copy(),
                "foot_height": kin["foot_height"].copy(),
                "episode_step": self.episode_step.copy()}
        resample = (self.episode_step % self.resample_steps == 0) & ~done
        if resample.any():
            self._resample(np.flatnonzero(resample))
        done_ids = np.flatnonzero(done)
        if done_ids.size:
            info["episode"] = {k: float(v[done_ids].mean()) for k, v in self.episode_sums.items()}
            info["episode"]["length_s"] = float(self.episode_step[done_ids].mean() * POLICY_DT)
            bad = ~np.all(np.isfinite(self.state[done_ids]), axis=1)
            if bad.any():  # a diverged simulation: reset its state before any further use
                self.state[done_ids[bad]] = 0.0
            self.reset(done_ids)
        keep = np.flatnonzero(~done)
        if keep.size:
            self.obs[keep] = self._observe(keep)
        self.history.push(self.obs)
        if done_ids.size:
            self.history.reset(done_ids, self.obs[done_ids])
        info["obs_history"] = self.history.flat()
        return self.obs.copy(), priv, reward.astype(np.float32), done, info

    def get_obs_history(self) -> np.ndarray:
        return self.history.flat()


__all__ = ["MujocoGo2Env", "load_model", "go2_xml_path", "quat_to_rot", "SIM_DT", "PRIV_DIM"]
