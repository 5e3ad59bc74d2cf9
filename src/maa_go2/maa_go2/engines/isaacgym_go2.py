"""Isaac Gym backend: a legged_gym ``LeggedRobot`` Go2 task that feeds the shared WTW logic what MuJoCo feeds it.

Everything task-specific (observation, commands and curriculum, gait clock, PD, rewards, randomization, reset and
termination) comes from the shared modules used by :class:`~maa_go2.engines.mujoco_engine.MujocoGo2Env`, with the
same inputs: foot positions relative to the base in the yaw frame, foot / thigh+calf / base contact forces as their
maximum over the physics steps of a policy step, per-env motor strength and Kp/Kd factors in the PD law, friction,
restitution and added mass redrawn at every reset, pushes added to the base velocity, the reset pose (upright at
``init_height``, joints uniform around the default, at rest), the fall termination (base contact, tilt, height,
non-finite state) and the time-out at ``episode_length_s``. Random draws that MuJoCo takes from its numpy generator
(randomization, reset, commands, pushes) come from a numpy generator seeded with ``cfg.seed`` in the same order, so
the two engines give the same episode for the same seed; observation noise is drawn on the device.

``step`` returns ``(obs [N,70], privileged [N,7], reward [N], reset [N], extras)`` (legged_gym's convention), with
``extras["time_outs"]`` (time-out without a fall, for bootstrapping) and ``extras["episode"]``;
:meth:`Go2WTW.get_obs_history` gives the adaptation module's ``[N, history_len*70]`` history. Train it with
:mod:`maa_go2.engines.isaac_runner` (the project's PPO, actor-critic and adaptation module) and register it with
legged_gym through :mod:`maa_go2.engines.register_isaac`.

``isaacgym`` / ``legged_gym`` are optional: the module imports without them and ``Go2WTW(...)`` raises an
ImportError that says what is missing. The module runs on Python 3.8 (Isaac Gym Preview 4 supports 3.6-3.8).
"""
from __future__ import annotations

import math

import numpy as np

from maa_core.rotations import yaw_of
from maa_go2 import commands as cmds
from maa_go2.control import DEFAULT_JOINT_POS, action_to_target, pd_torque
from maa_go2.curriculum import CommandSampler
from maa_go2.engines.legged_gym_config import (
    Go2WTWCfg,
    Go2WTWCfgPPO,
    cfg_members,
    command_ranges,
    curriculum_config,
    randomization_config,
    reward_config,
)
from maa_go2.env_config import staggered_episode_steps
from maa_go2.joint_order import LEGS_POLICY
from maa_go2.observation import NOISE_VECTOR, OBS_DIM, build_observation
from maa_go2.randomization import LIN_VEL_SCALE, PRIV_NAMES, VARIANT_PARAMS, delay_substeps, sample_params
from maa_go2.rewards import REWARD_FUNCTIONS, RewardState, compute_rewards

try:  # pragma: no cover - requires a GPU machine with Isaac Gym Preview 4 and legged_gym (tests use a stand-in)
    import isaacgym  # noqa: F401  (must be imported before torch)
    import torch  # noqa: I001
    from isaacgym import gymtorch
    from legged_gym.envs.base.legged_robot import LeggedRobot

    HAVE_ISAACGYM = True
    _IMPORT_ERROR = None
except ImportError as exc:
    HAVE_ISAACGYM = False
    _IMPORT_ERROR = exc
    LeggedRobot = object  # type: ignore[misc,assignment]

MISSING_MSG = ("the Isaac Gym backend needs the 'isaacgym' (Isaac Gym Preview 4, NVIDIA GPU) and 'legged_gym' "
               "packages, which are not importable here ({err}); use maa_go2.engines.mujoco_engine.MujocoGo2Env "
               "on CPU instead")
#: parameters whose per-env values live on the device (the PD law and the latency use them every physics step)
DEVICE_PARAMS = ("motor_strength", "kp_factor", "kd_factor", "latency", "joint_damping", "joint_friction",
                 "torque_limit_scale", "actuation_delay_ms")


# ------------------------------------------------------------------------------------------ pure tensor helpers
def quat_rotate_inverse(quat, vec):
    """Rotate ``vec [N,3]`` by the inverse of unit quaternions ``quat [N,4]`` (x, y, z, w): world -> base frame."""
    import torch

    xyz, w = quat[:, :3], quat[:, 3:4]
    t = 2.0 * torch.cross(-xyz, vec, dim=-1)
    return vec + w * t + torch.cross(-xyz, t, dim=-1)


def to_yaw_frame(rel, quat):
    """World-frame offsets ``rel [N,K,3]`` expressed in the base's yaw-aligned frame (roll and pitch ignored)."""
    import torch

    yaw = yaw_of(quat, scalar_first=False)
    cy, sy = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
    return torch.stack([cy * rel[..., 0] + sy * rel[..., 1], -sy * rel[..., 0] + cy * rel[..., 1], rel[..., 2]], -1)


def contact_summary(forces, feet, leg_bodies, base_bodies):
    """One physics step's contact inputs of the shared logic from the net contact forces ``[N, bodies, 3]``.

    Returns ``(foot [N,4], leg [N,4], base [N])``: foot normal force (world z), per leg the largest contact force
    norm over its penalized bodies (thigh and calf), and the largest norm over the termination bodies.
    """
    norms = forces.norm(dim=-1)
    foot = forces[:, feet, 2]
    leg = norms[:, leg_bodies].amax(dim=-1)
    base = norms[:, base_bodies].amax(dim=-1)
    return foot, leg, base


def privileged_tensor(params: dict, base_lin_vel):
    """``[N, 7]`` privileged vector on the device, in :data:`~maa_go2.randomization.PRIV_NAMES` order (the same
    numbers as :func:`maa_go2.randomization.privileged_obs`)."""
    import torch

    cols = [params[name] for name in PRIV_NAMES[:4]]
    return torch.cat([torch.stack(cols, dim=1), base_lin_vel * LIN_VEL_SCALE], dim=1)


class Go2WTW(LeggedRobot):  # type: ignore[misc,valid-type]
    """legged_gym task for the Go2 with the walk-these-ways observation/commands/rewards of ``maa_go2``."""

    reward_functions_shared = REWARD_FUNCTIONS  #: the shared reward terms this task evaluates

    def __init__(self, cfg: Go2WTWCfg, sim_params, physics_engine, sim_device, headless):
        if not HAVE_ISAACGYM:
            raise ImportError(MISSING_MSG.format(err=_IMPORT_ERROR))
        n = int(cfg.env.num_envs)  # pragma: no cover (below: GPU or the test stand-in)
        self.seed = int(getattr(cfg, "seed", 0))  #: legged_gym's task_registry copies train_cfg.seed here
        self.rng = np.random.default_rng(self.seed)
        self.dr_cfg = randomization_config(cfg)
        self.reward_cfg = reward_config(cfg)
        self.sampler = CommandSampler(command_ranges(cfg), curriculum_config(cfg), self.rng, n)
        #: observed command constants (style specialists): a legged_gym cfg without the key has none
        self.fixed_observed_commands = cmds.resolve_observed_commands(getattr(cfg.commands, "fixed_observed", {}))
        # the MuJoCo engine's draw order: per-env params, then the physical-parameter variants, then reset()
        self.params = sample_params(self.rng, n, self.dr_cfg)
        nv = self.dr_cfg.num_model_variants if self.dr_cfg.enabled else 1
        self.variant_params = sample_params(self.rng, nv, self.dr_cfg)
        self.commands_np = np.zeros((n, cmds.NUM_COMMANDS))  #: float64 host copy (curriculum bookkeeping)
        super().__init__(cfg, sim_params, physics_engine, sim_device, headless)
        self.reset()

    # ------------------------------------------------------------------------------------------- buffers
    def _init_buffers(self):
        super()._init_buffers()
        n, dev = self.num_envs, self.device
        bodies = self.gym.acquire_rigid_body_state_tensor(self.sim)
        self.gym.refresh_rigid_body_state_tensor(self.sim)
        self.rigid_body_states = gymtorch.wrap_tensor(bodies).view(n, -1, 13)
        self.gait_index = torch.zeros(n, device=dev)
        self.last_last_actions = torch.zeros_like(self.actions)
        self.last_applied = torch.zeros_like(self.actions)  #: the previous policy step's applied actions
        self.device_params = {k: torch.as_tensor(self.params[k], dtype=torch.float, device=dev).clone()
                              for k in DEVICE_PARAMS + VARIANT_PARAMS}
        #: physics steps per policy step that still apply the previous target (``actuation_delay_ms``), ``[N]``
        self.delay_substeps = torch.as_tensor(delay_substeps(self.params["actuation_delay_ms"]), device=dev)
        self._init_body_groups()
        self.foot_force = torch.zeros(n, 4, device=dev)  #: max over the physics steps of a policy step
        self.leg_collision = torch.zeros(n, 4, device=dev)
        self.base_contact = torch.zeros(n, device=dev)
        self.history_len = int(self.cfg.env.history_len)
        self.obs_history = torch.zeros(n, self.history_len, OBS_DIM, device=dev)
        self.max_steps = int(round(self.cfg.env.episode_length_s / self.dt))
        self.resample_steps = max(1, int(round(self.cfg.commands.resampling_time / self.dt)))
        self.push_steps = max(1, int(round(self.cfg.domain_rand.push_interval_s / self.dt)))
        self.actor_ids = torch.arange(n, dtype=torch.int32, device=dev)
        self.gravity_down = torch.tensor([[0.0, 0.0, -1.0]], device=dev).repeat(n, 1)
        self._just_reset = torch.zeros(n, dtype=torch.bool, device=dev)
        if not math.isclose(self.dt, 0.02, rel_tol=1e-6):
            raise ValueError(f"policy dt {self.dt} s differs from maa_go2.control.POLICY_DT 0.02 s: check "
                             "cfg.control.decimation and cfg.sim.dt")

    def _init_body_groups(self):
        """Feet (FL, FR, RL, RR), per-leg penalized bodies (thigh, calf) and termination bodies, by name."""
        names = self.gym.get_actor_rigid_body_names(self.envs[0], self.actor_handles[0])
        handle = lambda name: self.gym.find_actor_rigid_body_handle(self.envs[0], self.actor_handles[0], name)  # noqa: E731
        asset = self.cfg.asset
        feet, legs = [], []
        for leg in LEGS_POLICY:
            foot = [b for b in names if b.startswith(leg) and asset.foot_name in b]
            parts = [b for key in asset.penalize_contacts_on for b in names if b.startswith(leg) and key in b]
            if len(foot) != 1 or not parts:
                raise ValueError(f"asset bodies {names}: expected one '{asset.foot_name}' and penalized bodies "
                                 f"{asset.penalize_contacts_on} for leg {leg}")
            feet.append(handle(foot[0]))
            legs.append([handle(b) for b in parts])
        if len({len(p) for p in legs}) != 1:
            raise ValueError(f"legs have different numbers of penalized bodies: {legs}")
        self.feet_indices = torch.tensor(feet, dtype=torch.long, device=self.device)
        self.leg_contact_indices = torch.tensor(legs, dtype=torch.long, device=self.device)  #: [4, bodies per leg]

    def _prepare_reward_function(self):
        """Rewards come from :mod:`maa_go2.rewards`; only the episode sums are prepared here."""
        self.episode_sums = {k: torch.zeros(self.num_envs, device=self.device)
                             for k, v in self.reward_cfg.scales.items() if v != 0}

    def _get_noise_scale_vec(self, cfg):
        """The shared 70-dim noise amplitudes x ``noise_level``; sets ``add_noise`` (as the base method does)."""
        self.add_noise = bool(self.cfg.noise.add_noise)
        scale = NOISE_VECTOR * float(self.cfg.noise.noise_level)
        return torch.as_tensor(scale, dtype=torch.float, device=self.device)

    # ------------------------------------------------------------------------------------------- creation callbacks
    def _process_rigid_shape_props(self, props, env_id):
        for p in props:
            p.friction = float(self.params["friction"][env_id])
            p.restitution = float(self.params["restitution"][env_id])
        return props

    def _process_rigid_body_props(self, props, env_id):
        if env_id == 0:
            self.default_base_mass = float(props[0].mass)  #: the asset's base mass; added mass goes on top
        props[0].mass = self.default_base_mass + float(self.params["added_mass"][env_id])
        return props

    # ------------------------------------------------------------------------------------------- stepping
    def step(self, actions):
        """Apply ``actions [N,12]`` (clipped; one policy step late where the env has latency) for ``decimation``
        physics steps, then :meth:`post_physics_step`. Returns legged_gym's ``(obs, privileged, rew, reset,
        extras)``."""
        if tuple(actions.shape) != (self.num_envs, self.num_actions):
            raise ValueError(f"expected actions [{self.num_envs}, {self.num_actions}], got {list(actions.shape)}")
        actions = actions.to(self.device)
        if not bool(torch.isfinite(actions).all()):
            raise ValueError("actions contain NaN/inf")
        clip = self.cfg.normalization.clip_actions
        actions = torch.clip(actions, -clip, clip)
        applied = torch.where(self.device_params["latency"][:, None] > 0, self.actions, actions)
        previous = self.last_applied.clone()
        self.last_applied[:] = applied
        self.last_last_actions[:] = self.last_actions
        self.last_actions[:] = self.actions
        self.actions[:] = actions
        self.render()
        for sub in range(self.cfg.control.decimation):
            held = (sub < self.delay_substeps)[:, None]  # actuation delay: the previous step's target still acts
            self.torques = self._compute_torques(torch.where(held, previous, applied)).view(self.torques.shape)
            self.gym.set_dof_actuation_force_tensor(self.sim, gymtorch.unwrap_tensor(self.torques))
            self.gym.simulate(self.sim)
            if self.device == "cpu":
                self.gym.fetch_results(self.sim, True)
            self.gym.refresh_dof_state_tensor(self.sim)
            self.gym.refresh_net_contact_force_tensor(self.sim)
            self._track_contacts(first=sub == 0)
        self.post_physics_step()
        return self.obs_buf, self.privileged_obs_buf, self.rew_buf, self.reset_buf, self.extras

    def _track_contacts(self, first: bool):
        """Keep the maximum over the policy step's physics steps (as the MuJoCo engine does with its sensors)."""
        foot, leg, base = contact_summary(self.contact_forces, self.feet_indices, self.leg_contact_indices,
                                          self.termination_contact_indices)
        if first:
            self.foot_force[:], self.leg_collision[:], self.base_contact[:] = foot, leg, base
        else:
            torch.maximum(self.foot_force, foot, out=self.foot_force)
            torch.maximum(self.leg_collision, leg, out=self.leg_collision)
            torch.maximum(self.base_contact, base, out=self.base_contact)

    def _compute_torques(self, actions):
        """The shared PD law with this env's Kp/Kd factors, motor strength and passive joint losses (explicit
        torques, as in MuJoCo: in effort mode Isaac Gym's DOF drive damping does not act, so the damping that MuJoCo
        integrates in its model variants, ``engine_joint_damping``, is explicit here too)."""
        p = self.device_params
        return pd_torque(action_to_target(actions), self.dof_pos, self.dof_vel, self.p_gains * p["kp_factor"][:, None],
                         self.d_gains * p["kd_factor"][:, None], p["motor_strength"][:, None],
                         p["torque_limit_scale"][:, None],
                         damping=(p["joint_damping"] + p["engine_joint_damping"])[:, None],
                         friction=p["joint_friction"][:, None])

    def post_physics_step(self):
        """The MuJoCo engine's order: gait clock, push, rewards, termination, curriculum, resample, reset, obs."""
        self.gym.refresh_actor_root_state_tensor(self.sim)
        self.gym.refresh_rigid_body_state_tensor(self.sim)
        self.extras.pop("episode", None)
        self.episode_length_buf += 1
        self.common_step_counter += 1
        self.gait_index = cmds.advance_gait(self.gait_index, self.commands, self.dt)
        self._push_robots()
        self._update_base_state()
        self.compute_reward()
        self.check_termination()
        self.sampler.track(self.commands, self.base_lin_vel, self.base_ang_vel, self.extras["contact_match"])
        done = self.reset_buf.bool()
        finished = self.time_out_buf.nonzero(as_tuple=False).flatten().cpu().numpy()
        if finished.size:  # a segment that ran to the episode's end counts like one ended by a resample
            self.sampler.finish(finished, self.commands_np[finished], completed=True)
        due = ((self.episode_length_buf % self.resample_steps == 0) & ~done).nonzero(as_tuple=False).flatten()
        if len(due):
            self._resample_commands(due)
        self.extras["time_outs"] = self.time_out_buf.clone()
        self.extras["fell"] = self.fell_buf.clone()
        self.reset_idx(done.nonzero(as_tuple=False).flatten())
        self._update_base_state()
        self.compute_observations()

    def _update_base_state(self):
        q = self.root_states[:, 3:7]
        self.base_quat[:] = q
        self.base_lin_vel[:] = quat_rotate_inverse(q, self.root_states[:, 7:10])
        self.base_ang_vel[:] = quat_rotate_inverse(q, self.root_states[:, 10:13])
        self.projected_gravity[:] = quat_rotate_inverse(q, self.gravity_down)

    def _push_robots(self):
        """Every ``push_interval_s`` of an episode: add uniform(-v, v) to the base's world xy velocity."""
        if not self.cfg.domain_rand.push_robots:
            return
        ids = (self.episode_length_buf % self.push_steps == 0).nonzero(as_tuple=False).flatten()
        if len(ids) == 0:
            return
        v = self.cfg.domain_rand.max_push_vel_xy
        delta = self.rng.uniform(-v, v, (len(ids), 2))
        self.root_states[ids, 7:9] += torch.as_tensor(delta, dtype=torch.float, device=self.device)
        actors = self.actor_ids[ids]
        self.gym.set_actor_root_state_tensor_indexed(self.sim, gymtorch.unwrap_tensor(self.root_states),
                                                     gymtorch.unwrap_tensor(actors), len(actors))

    def check_termination(self):
        """Fall (base contact, tilt past ``fall_gravity_z``, base below ``fall_height``, non-finite state) or the
        episode's end. ``time_out_buf``: time-outs without a fall (the envs whose value is bootstrapped)."""
        env = self.cfg.env
        finite = torch.isfinite(self.root_states).all(dim=1) & torch.isfinite(self.dof_state.view(
            self.num_envs, -1)).all(dim=1)
        fell = ((self.base_contact > 1.0) | (self.projected_gravity[:, 2] > env.fall_gravity_z)
                | (self.root_states[:, 2] < env.fall_height) | ~finite)
        time_out = self.episode_length_buf >= self.max_steps
        self.fell_buf = fell
        self.time_out_buf = time_out & ~fell
        self.reset_buf = fell | time_out

    # ------------------------------------------------------------------------------------------- reset
    def reset(self):
        """Reset every env without stepping (as the MuJoCo engine); returns ``(obs, privileged)``."""
        self.reset_idx(torch.arange(self.num_envs, device=self.device))
        self._update_base_state()
        self.compute_observations()
        return self.obs_buf, self.privileged_obs_buf

    def stagger_episodes(self, seed: int) -> None:
        """Spread the envs' episode clocks over the episode (:func:`maa_go2.env_config.staggered_episode_steps`, the
        same draw as the MuJoCo engine's)."""
        steps = staggered_episode_steps(self.num_envs, self.max_steps, seed)
        self.episode_length_buf[:] = torch.as_tensor(steps, device=self.device).to(self.episode_length_buf.dtype)

    def reset_idx(self, env_ids):
        """New randomized parameters, pose and commands for ``env_ids`` (the MuJoCo engine's ``reset``)."""
        if len(env_ids) == 0:
            return
        self.extras["episode"] = {k: float(v[env_ids].mean()) for k, v in self.episode_sums.items()}
        self.extras["episode"]["length_s"] = float(self.episode_length_buf[env_ids].float().mean()) * self.dt
        ids = env_ids.cpu().numpy()
        self._randomize(ids)
        self._reset_dofs(env_ids)
        self._reset_root_states(env_ids)
        for buf in (self.actions, self.last_actions, self.last_last_actions, self.torques, self.last_applied):
            buf[env_ids] = 0.0
        self.episode_length_buf[env_ids] = 0
        self.gait_index[env_ids] = 0.0
        self._resample_commands(env_ids, completed=False)
        self._just_reset[env_ids] = True
        for v in self.episode_sums.values():
            v[env_ids] = 0.0

    def _randomize(self, ids: np.ndarray):
        """Draw per-env parameters and a physical-parameter variant; apply friction, restitution and mass."""
        k = ids.size
        for key, val in sample_params(self.rng, k, self.dr_cfg).items():
            self.params[key][ids] = val
        var = self.rng.integers(0, len(self.variant_params["friction"]), size=k)
        # friction, restitution, mass: shape / body properties below; engine_joint_damping: the explicit torque
        for key in VARIANT_PARAMS:
            self.params[key][ids] = self.variant_params[key][var]
        for key, t in self.device_params.items():
            t[ids] = torch.as_tensor(self.params[key][ids], dtype=torch.float, device=self.device)
        self.delay_substeps[ids] = torch.as_tensor(delay_substeps(self.params["actuation_delay_ms"][ids]),
                                                   device=self.device)
        if self.dr_cfg.enabled:
            self._apply_physical_params(ids)

    def _apply_physical_params(self, ids: np.ndarray):
        for i in ids.tolist():
            env, actor = self.envs[i], self.actor_handles[i]
            shapes = self.gym.get_actor_rigid_shape_properties(env, actor)
            for p in shapes:
                p.friction = float(self.params["friction"][i])
                p.restitution = float(self.params["restitution"][i])
            self.gym.set_actor_rigid_shape_properties(env, actor, shapes)
            bodies = self.gym.get_actor_rigid_body_properties(env, actor)
            bodies[0].mass = self.default_base_mass + float(self.params["added_mass"][i])
            self.gym.set_actor_rigid_body_properties(env, actor, bodies, recomputeInertia=True)

    def _reset_dofs(self, env_ids):
        """Default pose + uniform(-joint_noise, joint_noise), at rest."""
        noise = self.rng.uniform(-1, 1, (len(env_ids), self.num_dof)) * float(self.cfg.init_state.joint_noise)
        self.dof_pos[env_ids] = torch.as_tensor(DEFAULT_JOINT_POS + noise, dtype=torch.float, device=self.device)
        self.dof_vel[env_ids] = 0.0
        actors = self.actor_ids[env_ids]
        self.gym.set_dof_state_tensor_indexed(self.sim, gymtorch.unwrap_tensor(self.dof_state),
                                              gymtorch.unwrap_tensor(actors), len(actors))

    def _reset_root_states(self, env_ids):
        """Upright at ``init_state.pos`` above the env origin, at rest."""
        self.root_states[env_ids] = self.base_init_state
        self.root_states[env_ids, :3] += self.env_origins[env_ids]
        actors = self.actor_ids[env_ids]
        self.gym.set_actor_root_state_tensor_indexed(self.sim, gymtorch.unwrap_tensor(self.root_states),
                                                     gymtorch.unwrap_tensor(actors), len(actors))

    def _resample_commands(self, env_ids, completed: bool = True):
        """End the envs' command segments (curriculum update) and draw new commands from the shared sampler."""
        ids = env_ids.cpu().numpy() if hasattr(env_ids, "cpu") else np.asarray(env_ids)
        self.sampler.finish(ids, self.commands_np[ids], completed=completed)
        self.commands_np[ids] = self.sampler.sample(ids.size)
        self.commands[env_ids] = torch.as_tensor(self.commands_np[ids], dtype=torch.float, device=self.device)

    def _post_physics_step_callback(self):
        """Not used: :meth:`post_physics_step` resamples and pushes in the MuJoCo engine's order."""

    # ------------------------------------------------------------------------------------------- obs / reward
    def _gait(self):
        idx = cmds.foot_indices(self.gait_index, self.commands)
        return idx, cmds.desired_contact(idx, self.commands)

    def reward_state(self) -> RewardState:
        """The shared reward inputs from the current buffers (feet relative to the base in the yaw frame)."""
        feet = self.rigid_body_states[:, self.feet_indices]
        rel = to_yaw_frame(feet[..., :3] - self.root_states[:, None, :3], self.root_states[:, 3:7])
        idx, desired = self._gait()
        return RewardState(self.base_lin_vel, self.base_ang_vel, self.projected_gravity, self.root_states[:, 2],
                           self.dof_pos, self.dof_vel, self.torques, self.actions, self.last_actions,
                           self.last_last_actions, rel, feet[..., 2], feet[..., 7:10], self.foot_force,
                           self.leg_collision, self.commands, idx, desired)

    def compute_reward(self):
        """Shared rewards; also the step's diagnostics in ``extras`` (the MuJoCo engine's ``info``)."""
        s = self.reward_state()
        self.rew_buf, terms = compute_rewards(s, self.reward_cfg, self.dt)
        for name, val in terms.items():
            self.episode_sums[name] += val
        self.extras["contact_match"] = ((s.foot_force > 1.0) == (s.desired_contact > 0.5)).float().mean(1)
        self.extras["base_lin_vel"] = self.base_lin_vel.clone()
        self.extras["base_ang_vel"] = self.base_ang_vel.clone()
        self.extras["commands"] = self.commands.clone()

    def compute_observations(self):
        """Observation (with device-drawn noise), privileged vector and the observation history."""
        seen = cmds.observed_commands(self.commands, self.fixed_observed_commands)
        idx = cmds.foot_indices(self.gait_index, seen)
        obs = build_observation(self.projected_gravity, seen, self.dof_pos, self.dof_vel, self.actions,
                                self.last_actions, cmds.clock_inputs(idx))
        if self.add_noise:
            obs = obs + (2 * torch.rand_like(obs) - 1) * self.noise_scale_vec
        self.obs_buf = obs
        self.privileged_obs_buf = privileged_tensor(self.device_params, self.base_lin_vel)
        self.obs_history = torch.cat([self.obs_history[:, 1:], obs[:, None]], dim=1)
        fresh = self._just_reset
        if bool(fresh.any()):
            self.obs_history[fresh] = obs[fresh][:, None].expand(-1, self.history_len, -1)
            fresh[:] = False

    def get_obs_history(self):
        """``[N, history_len * 70]``, oldest first (the MuJoCo engine's ``info["obs_history"]``)."""
        return self.obs_history.reshape(self.num_envs, -1)

    def params_numpy(self) -> dict:
        """Per-env randomized parameters (numpy copies)."""
        return {k: v.copy() for k, v in self.params.items()}


__all__ = ["Go2WTW", "Go2WTWCfg", "Go2WTWCfgPPO", "HAVE_ISAACGYM", "cfg_members", "contact_summary",
           "privileged_tensor", "quat_rotate_inverse", "to_yaw_frame"]
