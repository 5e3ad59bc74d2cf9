"""Thin Isaac Gym backend: a legged_gym ``LeggedRobot`` Go2 task that calls the shared WTW logic.

Everything task-specific (observation, commands, gait clock, PD, rewards, randomization ranges) comes from the shared
modules used by :class:`~maa_go2.engines.mujoco_engine.MujocoGo2Env`; this file only maps Isaac Gym tensors onto
them. ``isaacgym`` / ``legged_gym`` are optional: the module imports without them and ``Go2WTW(...)`` raises an
ImportError that says what is missing. Register with legged_gym as::

    task_registry.register("go2_wtw", Go2WTW, Go2WTWCfg(), Go2WTWCfgPPO())
"""
from __future__ import annotations

import numpy as np

from maa_go2 import commands as cmds
from maa_go2 import control
from maa_go2.engines.legged_gym_config import Go2WTWCfg, Go2WTWCfgPPO
from maa_go2.observation import NOISE_VECTOR, build_observation
from maa_go2.rewards import REWARD_FUNCTIONS, RewardConfig, RewardState, compute_rewards

try:  # pragma: no cover - requires a GPU machine with Isaac Gym Preview 4 and legged_gym
    import isaacgym  # noqa: F401  (must be imported before torch)
    import torch
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


def cfg_members(obj) -> dict:
    """Public attributes of a legged_gym config node (class attributes included, as legged_gym's class_to_dict)."""
    return {k: getattr(obj, k) for k in dir(obj) if not k.startswith("_")}


class Go2WTW(LeggedRobot):  # type: ignore[misc,valid-type]
    """legged_gym task for the Go2 with the walk-these-ways observation/commands/rewards of ``maa_go2``."""

    reward_functions_shared = REWARD_FUNCTIONS  #: the shared reward terms this task evaluates

    def __init__(self, cfg: Go2WTWCfg, sim_params, physics_engine, sim_device, headless):
        if not HAVE_ISAACGYM:
            raise ImportError(MISSING_MSG.format(err=_IMPORT_ERROR))
        self._np_rng = np.random.default_rng(0)
        super().__init__(cfg, sim_params, physics_engine, sim_device, headless)  # pragma: no cover

    # ---------------------------------------------------------------- buffers (GPU only below)
    def _init_buffers(self):  # pragma: no cover
        super()._init_buffers()
        n, dev = self.num_envs, self.device
        self.commands = torch.zeros(n, cmds.NUM_COMMANDS, device=dev)
        self.gait_index = torch.zeros(n, device=dev)
        self.last_last_actions = torch.zeros_like(self.actions)
        self.motor_strength = torch.ones(n, 1, device=dev)
        self.range_cfg = cmds.CommandRanges(**{k: list(v) for k, v in cfg_members(self.cfg.commands.ranges).items()})
        self.reward_cfg = RewardConfig(scales=cfg_members(self.cfg.rewards.scales),
                                       sigma_rew_neg=self.cfg.rewards.sigma_rew_neg)
        self.episode_sums = {k: torch.zeros(n, device=dev) for k in self.reward_cfg.scales}

    def _prepare_reward_function(self):  # pragma: no cover - rewards come from maa_go2.rewards
        pass

    def _get_noise_scale_vec(self, cfg):  # pragma: no cover - the shared 70-dim noise vector
        return torch.as_tensor(NOISE_VECTOR * self.cfg.noise.noise_level, dtype=torch.float, device=self.device)

    # ---------------------------------------------------------------- control / commands
    def _compute_torques(self, actions):  # pragma: no cover
        target = control.action_to_target(actions)
        return control.pd_torque(target, self.dof_pos, self.dof_vel, control.KP, control.KD, self.motor_strength)

    def _resample_commands(self, env_ids):  # pragma: no cover
        new = cmds.sample_commands(self._np_rng, len(env_ids), self.range_cfg)
        self.commands[env_ids] = torch.as_tensor(new, dtype=torch.float, device=self.device)

    def _post_physics_step_callback(self):  # pragma: no cover
        super()._post_physics_step_callback()
        self.gait_index = cmds.advance_gait(self.gait_index, self.commands, self.dt)

    # ---------------------------------------------------------------- observation / reward
    def _feet(self):  # pragma: no cover
        feet_state = self.rigid_body_states.view(self.num_envs, -1, 13)[:, self.feet_indices]
        idx = cmds.foot_indices(self.gait_index, self.commands)
        return feet_state, idx, cmds.desired_contact(idx, self.commands)

    def compute_observations(self):  # pragma: no cover
        _, idx, _ = self._feet()
        self.obs_buf = build_observation(self.projected_gravity, self.commands, self.dof_pos, self.dof_vel,
                                         self.actions, self.last_actions, cmds.clock_inputs(idx))
        if self.add_noise:
            self.obs_buf += (2 * torch.rand_like(self.obs_buf) - 1) * self.noise_scale_vec

    def compute_reward(self):  # pragma: no cover
        feet_state, idx, desired = self._feet()
        rel = feet_state[..., :3] - self.root_states[:, None, :3]
        foot_force = self.contact_forces[:, self.feet_indices, 2]
        collision = torch.norm(self.contact_forces[:, self.penalised_contact_indices, :], dim=-1)[:, :4]
        s = RewardState(self.base_lin_vel, self.base_ang_vel, self.projected_gravity, self.root_states[:, 2],
                        self.dof_pos, self.dof_vel, self.torques, self.actions, self.last_actions,
                        self.last_last_actions, rel, feet_state[..., 2], feet_state[..., 7:10], foot_force,
                        collision, self.commands, idx, desired)
        self.rew_buf, terms = compute_rewards(s, self.reward_cfg, self.dt)
        for name, val in terms.items():
            self.episode_sums[name] += val
        self.last_last_actions[:] = self.last_actions


__all__ = ["Go2WTW", "Go2WTWCfg", "Go2WTWCfgPPO", "HAVE_ISAACGYM"]
