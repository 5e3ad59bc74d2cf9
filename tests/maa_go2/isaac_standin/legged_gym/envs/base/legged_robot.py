"""Stand-in ``legged_gym.envs.base.legged_robot.LeggedRobot``.

Reads the same config attributes and creates the same buffers as legged_gym's ``LeggedRobot`` and unitree_rl_gym's
(the union: upstream's terrain/height checks, unitree's ``env.test`` pacing, ``rpy`` buffer and attitude
termination), on a plane. Only what a flat-ground task goes through is implemented; terrain meshes and the command
curriculum raise NotImplementedError.
"""
import os
import time

import numpy as np
import torch
from isaacgym import gymapi, gymtorch
from isaacgym.torch_utils import get_axis_params, quat_apply, quat_rotate_inverse, to_torch, torch_rand_float
from legged_gym import LEGGED_GYM_ROOT_DIR
from legged_gym.envs.base.base_task import BaseTask
from legged_gym.utils.helpers import class_to_dict
from legged_gym.utils.math import get_euler_xyz, wrap_to_pi

ASSET_OPTIONS = ("default_dof_drive_mode", "collapse_fixed_joints", "replace_cylinder_with_capsule",
                 "flip_visual_attachments", "fix_base_link", "density", "angular_damping", "linear_damping",
                 "max_angular_velocity", "max_linear_velocity", "armature", "thickness", "disable_gravity")


class LeggedRobot(BaseTask):
    def __init__(self, cfg, sim_params, physics_engine, sim_device, headless):
        self.cfg = cfg
        self.sim_params = sim_params
        self.height_samples = None
        self.debug_viz = False
        self.init_done = False
        self._parse_cfg(self.cfg)
        super().__init__(self.cfg, sim_params, physics_engine, sim_device, headless)
        if not self.headless:
            self.set_camera(self.cfg.viewer.pos, self.cfg.viewer.lookat)
        self._init_buffers()
        self._prepare_reward_function()
        self.init_done = True

    # ------------------------------------------------------------------------------------------- stepping
    def step(self, actions):
        clip_actions = self.cfg.normalization.clip_actions
        self.actions = torch.clip(actions, -clip_actions, clip_actions).to(self.device)
        self.render()
        for _ in range(self.cfg.control.decimation):
            self.torques = self._compute_torques(self.actions).view(self.torques.shape)
            self.gym.set_dof_actuation_force_tensor(self.sim, gymtorch.unwrap_tensor(self.torques))
            self.gym.simulate(self.sim)
            if self.cfg.env.test:  # unitree_rl_gym: pace to real time when playing
                ahead = self.gym.get_sim_time(self.sim) - self.gym.get_elapsed_time(self.sim)
                if ahead > 0:
                    time.sleep(ahead)
            if self.device == "cpu":
                self.gym.fetch_results(self.sim, True)
            self.gym.refresh_dof_state_tensor(self.sim)
        self.post_physics_step()
        clip_obs = self.cfg.normalization.clip_observations
        self.obs_buf = torch.clip(self.obs_buf, -clip_obs, clip_obs)
        if self.privileged_obs_buf is not None:
            self.privileged_obs_buf = torch.clip(self.privileged_obs_buf, -clip_obs, clip_obs)
        return self.obs_buf, self.privileged_obs_buf, self.rew_buf, self.reset_buf, self.extras

    def post_physics_step(self):
        self.gym.refresh_actor_root_state_tensor(self.sim)
        self.gym.refresh_net_contact_force_tensor(self.sim)
        self.episode_length_buf += 1
        self.common_step_counter += 1
        self.base_pos[:] = self.root_states[:, 0:3]
        self.base_quat[:] = self.root_states[:, 3:7]
        self.rpy[:] = torch.stack(get_euler_xyz(self.base_quat), dim=1)
        self.base_lin_vel[:] = quat_rotate_inverse(self.base_quat, self.root_states[:, 7:10])
        self.base_ang_vel[:] = quat_rotate_inverse(self.base_quat, self.root_states[:, 10:13])
        self.projected_gravity[:] = quat_rotate_inverse(self.base_quat, self.gravity_vec)
        self._post_physics_step_callback()
        self.check_termination()
        self.compute_reward()
        self.reset_idx(self.reset_buf.nonzero(as_tuple=False).flatten())
        self.compute_observations()
        self.last_actions[:] = self.actions[:]
        self.last_dof_vel[:] = self.dof_vel[:]
        self.last_root_vel[:] = self.root_states[:, 7:13]

    def check_termination(self):
        forces = torch.norm(self.contact_forces[:, self.termination_contact_indices, :], dim=-1)
        self.reset_buf = torch.any(forces > 1.0, dim=1)
        roll = wrap_to_pi(self.rpy[:, 0])
        pitch = wrap_to_pi(self.rpy[:, 1])
        self.reset_buf |= (pitch.abs() > 1.0) | (roll.abs() > 0.8)
        self.time_out_buf = self.episode_length_buf > self.max_episode_length
        self.reset_buf |= self.time_out_buf

    def reset_idx(self, env_ids):
        if len(env_ids) == 0:
            return
        if self.cfg.terrain.curriculum:
            raise NotImplementedError("stand-in: no terrain curriculum")
        if self.cfg.commands.curriculum and self.common_step_counter % self.max_episode_length == 0:
            raise NotImplementedError("stand-in: no command curriculum")
        self._reset_dofs(env_ids)
        self._reset_root_states(env_ids)
        self._resample_commands(env_ids)
        self.actions[env_ids] = 0.0
        self.last_actions[env_ids] = 0.0
        self.last_dof_vel[env_ids] = 0.0
        self.feet_air_time[env_ids] = 0.0
        self.episode_length_buf[env_ids] = 0
        self.reset_buf[env_ids] = 1
        self.extras["episode"] = {}
        for key, sums in self.episode_sums.items():
            self.extras["episode"]["rew_" + key] = torch.mean(sums[env_ids]) / self.max_episode_length_s
            sums[env_ids] = 0.0
        if self.cfg.env.send_timeouts:
            self.extras["time_outs"] = self.time_out_buf

    def compute_reward(self):
        self.rew_buf[:] = 0.0
        for name, fn in zip(self.reward_names, self.reward_functions):
            term = fn() * self.reward_scales[name]
            self.rew_buf += term
            self.episode_sums[name] += term
        if self.cfg.rewards.only_positive_rewards:
            self.rew_buf[:] = torch.clip(self.rew_buf[:], min=0.0)
        if "termination" in self.reward_scales:
            term = self._reward_termination() * self.reward_scales["termination"]
            self.rew_buf += term
            self.episode_sums["termination"] += term

    def compute_observations(self):
        s = self.obs_scales
        self.obs_buf = torch.cat((self.base_lin_vel * s.lin_vel, self.base_ang_vel * s.ang_vel, self.projected_gravity,
                                  self.commands[:, :3] * self.commands_scale,
                                  (self.dof_pos - self.default_dof_pos) * s.dof_pos, self.dof_vel * s.dof_vel,
                                  self.actions), dim=-1)
        if self.cfg.terrain.measure_heights:
            raise NotImplementedError("stand-in: no height measurements")
        if self.add_noise:
            self.obs_buf += (2 * torch.rand_like(self.obs_buf) - 1) * self.noise_scale_vec

    # ------------------------------------------------------------------------------------------- creation
    def create_sim(self):
        self.up_axis_idx = 2
        self.sim = self.gym.create_sim(self.sim_device_id, self.graphics_device_id, self.physics_engine,
                                       self.sim_params)
        mesh_type = self.cfg.terrain.mesh_type
        if mesh_type == "plane":
            self._create_ground_plane()
        elif mesh_type is not None:
            raise NotImplementedError(f"stand-in: terrain mesh_type {mesh_type!r} (plane only)")
        self._create_envs()

    def set_camera(self, position, lookat):
        self.gym.viewer_camera_look_at(self.viewer, None, gymapi.Vec3(*position), gymapi.Vec3(*lookat))

    def _process_rigid_shape_props(self, props, env_id):
        if self.cfg.domain_rand.randomize_friction:
            if env_id == 0:
                lo, hi = self.cfg.domain_rand.friction_range
                buckets = torch_rand_float(lo, hi, (64, 1), device="cpu")
                self.friction_coeffs = buckets[torch.randint(0, 64, (self.num_envs, 1))]
            for p in props:
                p.friction = float(self.friction_coeffs[env_id])
        return props

    def _process_dof_props(self, props, env_id):
        if env_id == 0:
            n = self.num_dof
            self.dof_pos_limits = torch.zeros(n, 2, dtype=torch.float, device=self.device)
            self.dof_vel_limits = torch.zeros(n, dtype=torch.float, device=self.device)
            self.torque_limits = torch.zeros(n, dtype=torch.float, device=self.device)
            soft = self.cfg.rewards.soft_dof_pos_limit
            for i in range(len(props)):
                lo, hi = float(props["lower"][i]), float(props["upper"][i])
                mid, half = (lo + hi) / 2, (hi - lo) / 2 * soft
                self.dof_pos_limits[i] = torch.tensor([mid - half, mid + half])
                self.dof_vel_limits[i] = float(props["velocity"][i])
                self.torque_limits[i] = float(props["effort"][i])
        return props

    def _process_rigid_body_props(self, props, env_id):
        if self.cfg.domain_rand.randomize_base_mass:
            lo, hi = self.cfg.domain_rand.added_mass_range
            props[0].mass += np.random.uniform(lo, hi)
        return props

    def _create_ground_plane(self):
        plane = gymapi.PlaneParams()
        plane.normal = gymapi.Vec3(0.0, 0.0, 1.0)
        plane.static_friction = self.cfg.terrain.static_friction
        plane.dynamic_friction = self.cfg.terrain.dynamic_friction
        plane.restitution = self.cfg.terrain.restitution
        self.gym.add_ground(self.sim, plane)

    def _create_envs(self):
        asset_path = self.cfg.asset.file.format(LEGGED_GYM_ROOT_DIR=LEGGED_GYM_ROOT_DIR)
        options = gymapi.AssetOptions()
        for name in ASSET_OPTIONS:
            setattr(options, name, getattr(self.cfg.asset, name))
        asset = self.gym.load_asset(self.sim, os.path.dirname(asset_path), os.path.basename(asset_path), options)
        self.num_dof = self.gym.get_asset_dof_count(asset)
        self.num_bodies = self.gym.get_asset_rigid_body_count(asset)
        dof_props_asset = self.gym.get_asset_dof_properties(asset)
        shape_props_asset = self.gym.get_asset_rigid_shape_properties(asset)
        body_names = self.gym.get_asset_rigid_body_names(asset)
        self.dof_names = self.gym.get_asset_dof_names(asset)
        self.num_bodies, self.num_dofs = len(body_names), len(self.dof_names)
        feet_names = [b for b in body_names if self.cfg.asset.foot_name in b]
        penalized = [b for key in self.cfg.asset.penalize_contacts_on for b in body_names if key in b]
        terminating = [b for key in self.cfg.asset.terminate_after_contacts_on for b in body_names if key in b]
        s = self.cfg.init_state
        self.base_init_state = to_torch(s.pos + s.rot + s.lin_vel + s.ang_vel, device=self.device)
        pose = gymapi.Transform()
        self._get_env_origins()
        lower, upper = gymapi.Vec3(0.0, 0.0, 0.0), gymapi.Vec3(0.0, 0.0, 0.0)
        self.actor_handles, self.envs = [], []
        for i in range(self.num_envs):
            env = self.gym.create_env(self.sim, lower, upper, int(np.sqrt(self.num_envs)))
            pos = self.env_origins[i].clone()
            pos[:2] += torch_rand_float(-1.0, 1.0, (2, 1), device=self.device).squeeze(1)
            pose.p = gymapi.Vec3(*pos)
            self.gym.set_asset_rigid_shape_properties(asset, self._process_rigid_shape_props(shape_props_asset, i))
            actor = self.gym.create_actor(env, asset, pose, self.cfg.asset.name, i, self.cfg.asset.self_collisions, 0)
            self.gym.set_actor_dof_properties(env, actor, self._process_dof_props(dof_props_asset, i))
            body_props = self._process_rigid_body_props(self.gym.get_actor_rigid_body_properties(env, actor), i)
            self.gym.set_actor_rigid_body_properties(env, actor, body_props, recomputeInertia=True)
            self.envs.append(env)
            self.actor_handles.append(actor)
        self.feet_indices = self._handles(feet_names)
        self.penalised_contact_indices = self._handles(penalized)
        self.termination_contact_indices = self._handles(terminating)

    def _handles(self, names):
        out = torch.zeros(len(names), dtype=torch.long, device=self.device)
        for i, name in enumerate(names):
            out[i] = self.gym.find_actor_rigid_body_handle(self.envs[0], self.actor_handles[0], name)
        return out

    def _get_env_origins(self):
        self.custom_origins = False
        self.env_origins = torch.zeros(self.num_envs, 3, device=self.device)
        cols = np.floor(np.sqrt(self.num_envs))
        rows = np.ceil(self.num_envs / cols)
        xx, yy = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
        spacing = self.cfg.env.env_spacing
        self.env_origins[:, 0] = spacing * xx.flatten()[: self.num_envs]
        self.env_origins[:, 1] = spacing * yy.flatten()[: self.num_envs]

    def _parse_cfg(self, cfg):
        self.dt = self.cfg.control.decimation * self.sim_params.dt
        self.obs_scales = self.cfg.normalization.obs_scales
        self.reward_scales = class_to_dict(self.cfg.rewards.scales)
        self.command_ranges = class_to_dict(self.cfg.commands.ranges)
        if self.cfg.terrain.mesh_type not in ("heightfield", "trimesh"):
            self.cfg.terrain.curriculum = False
        self.max_episode_length_s = self.cfg.env.episode_length_s
        self.max_episode_length = np.ceil(self.max_episode_length_s / self.dt)
        self.cfg.domain_rand.push_interval = np.ceil(self.cfg.domain_rand.push_interval_s / self.dt)

    # ------------------------------------------------------------------------------------------- callbacks
    def _post_physics_step_callback(self):
        every = int(self.cfg.commands.resampling_time / self.dt)
        self._resample_commands((self.episode_length_buf % every == 0).nonzero(as_tuple=False).flatten())
        if self.cfg.commands.heading_command:
            forward = quat_apply(self.base_quat, self.forward_vec)
            heading = torch.atan2(forward[:, 1], forward[:, 0])
            self.commands[:, 2] = torch.clip(0.5 * wrap_to_pi(self.commands[:, 3] - heading), -1.0, 1.0)
        if self.cfg.terrain.measure_heights:
            raise NotImplementedError("stand-in: no height measurements")
        if self.cfg.domain_rand.push_robots and self.common_step_counter % self.cfg.domain_rand.push_interval == 0:
            self._push_robots()

    def _resample_commands(self, env_ids):
        r, n = self.command_ranges, len(env_ids)
        self.commands[env_ids, 0] = torch_rand_float(*r["lin_vel_x"], (n, 1), device=self.device).squeeze(1)
        self.commands[env_ids, 1] = torch_rand_float(*r["lin_vel_y"], (n, 1), device=self.device).squeeze(1)
        if self.cfg.commands.heading_command:
            self.commands[env_ids, 3] = torch_rand_float(*r["heading"], (n, 1), device=self.device).squeeze(1)
        else:
            self.commands[env_ids, 2] = torch_rand_float(*r["ang_vel_yaw"], (n, 1), device=self.device).squeeze(1)
        self.commands[env_ids, :2] *= (torch.norm(self.commands[env_ids, :2], dim=1) > 0.2).unsqueeze(1)

    def _compute_torques(self, actions):
        scaled = actions * self.cfg.control.action_scale
        kind = self.cfg.control.control_type
        if kind == "P":
            torques = self.p_gains * (scaled + self.default_dof_pos - self.dof_pos) - self.d_gains * self.dof_vel
        elif kind == "V":
            torques = (self.p_gains * (scaled - self.dof_vel)
                       - self.d_gains * (self.dof_vel - self.last_dof_vel) / self.sim_params.dt)
        elif kind == "T":
            torques = scaled
        else:
            raise NameError(f"Unknown controller type: {kind}")
        return torch.clip(torques, -self.torque_limits, self.torque_limits)

    def _reset_dofs(self, env_ids):
        self.dof_pos[env_ids] = self.default_dof_pos * torch_rand_float(0.5, 1.5, (len(env_ids), self.num_dof),
                                                                        device=self.device)
        self.dof_vel[env_ids] = 0.0
        ids = env_ids.to(dtype=torch.int32)
        self.gym.set_dof_state_tensor_indexed(self.sim, gymtorch.unwrap_tensor(self.dof_state),
                                              gymtorch.unwrap_tensor(ids), len(ids))

    def _reset_root_states(self, env_ids):
        self.root_states[env_ids] = self.base_init_state
        self.root_states[env_ids, :3] += self.env_origins[env_ids]
        self.root_states[env_ids, 7:13] = torch_rand_float(-0.5, 0.5, (len(env_ids), 6), device=self.device)
        ids = env_ids.to(dtype=torch.int32)
        self.gym.set_actor_root_state_tensor_indexed(self.sim, gymtorch.unwrap_tensor(self.root_states),
                                                     gymtorch.unwrap_tensor(ids), len(ids))

    def _push_robots(self):
        v = self.cfg.domain_rand.max_push_vel_xy
        self.root_states[:, 7:9] = torch_rand_float(-v, v, (self.num_envs, 2), device=self.device)
        self.gym.set_actor_root_state_tensor(self.sim, gymtorch.unwrap_tensor(self.root_states))

    def _get_noise_scale_vec(self, cfg):
        vec = torch.zeros_like(self.obs_buf[0])
        self.add_noise = self.cfg.noise.add_noise
        ns, level, s, a = self.cfg.noise.noise_scales, self.cfg.noise.noise_level, self.obs_scales, self.num_actions
        vec[:3] = ns.lin_vel * level * s.lin_vel
        vec[3:6] = ns.ang_vel * level * s.ang_vel
        vec[6:9] = ns.gravity * level
        vec[12:12 + a] = ns.dof_pos * level * s.dof_pos
        vec[12 + a:12 + 2 * a] = ns.dof_vel * level * s.dof_vel
        return vec

    # ------------------------------------------------------------------------------------------- buffers
    def _init_buffers(self):
        root = self.gym.acquire_actor_root_state_tensor(self.sim)
        dof = self.gym.acquire_dof_state_tensor(self.sim)
        contacts = self.gym.acquire_net_contact_force_tensor(self.sim)
        self.gym.refresh_dof_state_tensor(self.sim)
        self.gym.refresh_actor_root_state_tensor(self.sim)
        self.gym.refresh_net_contact_force_tensor(self.sim)
        n, dev, a = self.num_envs, self.device, self.num_actions
        self.root_states = gymtorch.wrap_tensor(root)
        self.dof_state = gymtorch.wrap_tensor(dof)
        self.dof_pos = self.dof_state.view(n, self.num_dof, 2)[..., 0]
        self.dof_vel = self.dof_state.view(n, self.num_dof, 2)[..., 1]
        self.base_quat = self.root_states[:, 3:7]
        self.rpy = torch.stack(get_euler_xyz(self.base_quat), dim=1)
        self.base_pos = self.root_states[:n, 0:3]
        self.contact_forces = gymtorch.wrap_tensor(contacts).view(n, -1, 3)
        self.common_step_counter = 0
        self.extras = {}
        self.noise_scale_vec = self._get_noise_scale_vec(self.cfg)
        self.gravity_vec = to_torch(get_axis_params(-1.0, self.up_axis_idx), device=dev).repeat((n, 1))
        self.forward_vec = to_torch([1.0, 0.0, 0.0], device=dev).repeat((n, 1))
        self.torques = torch.zeros(n, a, dtype=torch.float, device=dev)
        self.p_gains = torch.zeros(a, dtype=torch.float, device=dev)
        self.d_gains = torch.zeros(a, dtype=torch.float, device=dev)
        self.actions = torch.zeros(n, a, dtype=torch.float, device=dev)
        self.last_actions = torch.zeros(n, a, dtype=torch.float, device=dev)
        self.last_dof_vel = torch.zeros_like(self.dof_vel)
        self.last_root_vel = torch.zeros_like(self.root_states[:, 7:13])
        self.commands = torch.zeros(n, self.cfg.commands.num_commands, dtype=torch.float, device=dev)
        s = self.obs_scales
        self.commands_scale = torch.tensor([s.lin_vel, s.lin_vel, s.ang_vel], device=dev)
        self.feet_air_time = torch.zeros(n, self.feet_indices.shape[0], dtype=torch.float, device=dev)
        self.last_contacts = torch.zeros(n, len(self.feet_indices), dtype=torch.bool, device=dev)
        self.base_lin_vel = quat_rotate_inverse(self.base_quat, self.root_states[:, 7:10])
        self.base_ang_vel = quat_rotate_inverse(self.base_quat, self.root_states[:, 10:13])
        self.projected_gravity = quat_rotate_inverse(self.base_quat, self.gravity_vec)
        if self.cfg.terrain.measure_heights:
            raise NotImplementedError("stand-in: no height measurements")
        self.measured_heights = 0
        self.default_dof_pos = torch.zeros(self.num_dof, dtype=torch.float, device=dev)
        for i, name in enumerate(self.dof_names):
            self.default_dof_pos[i] = self.cfg.init_state.default_joint_angles[name]
            gains = [key for key in self.cfg.control.stiffness.keys() if key in name]
            for key in gains:
                self.p_gains[i] = self.cfg.control.stiffness[key]
                self.d_gains[i] = self.cfg.control.damping[key]
            if not gains and self.cfg.control.control_type in ("P", "V"):
                print(f"PD gain of joint {name} were not defined, setting them to zero")
        self.default_dof_pos = self.default_dof_pos.unsqueeze(0)

    def _prepare_reward_function(self):
        for key in list(self.reward_scales.keys()):
            if self.reward_scales[key] == 0:
                self.reward_scales.pop(key)
            else:
                self.reward_scales[key] *= self.dt
        self.reward_names = [name for name in self.reward_scales if name != "termination"]
        self.reward_functions = [getattr(self, "_reward_" + name) for name in self.reward_names]
        self.episode_sums = {name: torch.zeros(self.num_envs, dtype=torch.float, device=self.device)
                             for name in self.reward_scales.keys()}

    # ------------------------------------------------------------------------------------------- a few rewards
    def _reward_termination(self):
        return self.reset_buf * ~self.time_out_buf

    def _reward_tracking_lin_vel(self):
        err = torch.sum(torch.square(self.commands[:, :2] - self.base_lin_vel[:, :2]), dim=1)
        return torch.exp(-err / self.cfg.rewards.tracking_sigma)
