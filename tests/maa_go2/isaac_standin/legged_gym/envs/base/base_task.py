"""Stand-in ``legged_gym.envs.base.base_task``: the buffers every task gets, sim creation and the viewer hooks."""
import sys

import torch
from isaacgym import gymapi, gymutil


class BaseTask:
    def __init__(self, cfg, sim_params, physics_engine, sim_device, headless):
        self.gym = gymapi.acquire_gym()
        self.sim_params = sim_params
        self.physics_engine = physics_engine
        self.sim_device = sim_device
        sim_device_type, self.sim_device_id = gymutil.parse_device_str(self.sim_device)
        self.headless = headless
        # tensors live on the sim device only with the GPU pipeline; otherwise on the CPU
        use_gpu = sim_device_type == "cuda" and sim_params.use_gpu_pipeline
        self.device = self.sim_device if use_gpu else "cpu"
        self.graphics_device_id = -1 if self.headless else self.sim_device_id

        self.num_envs = cfg.env.num_envs
        self.num_obs = cfg.env.num_observations
        self.num_privileged_obs = cfg.env.num_privileged_obs
        self.num_actions = cfg.env.num_actions

        n, dev = self.num_envs, self.device
        self.obs_buf = torch.zeros(n, self.num_obs, device=dev, dtype=torch.float)
        self.rew_buf = torch.zeros(n, device=dev, dtype=torch.float)
        self.reset_buf = torch.ones(n, device=dev, dtype=torch.long)
        self.episode_length_buf = torch.zeros(n, device=dev, dtype=torch.long)
        self.time_out_buf = torch.zeros(n, device=dev, dtype=torch.bool)
        self.privileged_obs_buf = (torch.zeros(n, self.num_privileged_obs, device=dev, dtype=torch.float)
                                   if self.num_privileged_obs is not None else None)
        self.extras = {}

        self.create_sim()
        self.gym.prepare_sim(self.sim)
        self.enable_viewer_sync = True
        self.viewer = None
        if not self.headless:
            self.viewer = self.gym.create_viewer(self.sim, gymapi.CameraProperties())

    def get_observations(self):
        return self.obs_buf

    def get_privileged_observations(self):
        return self.privileged_obs_buf

    def reset_idx(self, env_ids):
        raise NotImplementedError

    def reset(self):
        """Reset every env, then one zero-action step; returns (obs, privileged obs)."""
        self.reset_idx(torch.arange(self.num_envs, device=self.device))
        obs, privileged_obs, _, _, _ = self.step(torch.zeros(self.num_envs, self.num_actions, device=self.device))
        return obs, privileged_obs

    def step(self, actions):
        raise NotImplementedError

    def render(self, sync_frame_time=True):
        if self.viewer:  # the stand-in never has one (create_viewer raises)
            sys.exit("viewer")
