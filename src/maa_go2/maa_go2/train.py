"""PPO training of the Go2 walk-these-ways actor on the MuJoCo engine, with checkpoints and resume.

:func:`train` runs the loop both engines share (:func:`maa_go2.ppo_loop.run_ppo`) on :class:`MujocoTask`, the
MuJoCo engine behind the Isaac task's tensor interface, and writes the run directory of :mod:`maa_go2.run_dir`
(which the Isaac Gym runner, ``maa_go2.engines.isaac_runner``, resumes, and vice versa). The configuration is
:class:`~maa_go2.train_config.Go2TrainConfig` (the ``train:`` section of ``config/go2_*.yaml``).
"""
from __future__ import annotations

import numpy as np
import torch

from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.ppo_loop import EXTRAS_KEYS, run_ppo
from maa_go2.run_dir import CURVE_KEYS, checkpoint_files, read_curve, resume_checkpoint
from maa_go2.train_config import Go2TrainConfig, load_train_config

__all__ = ["CURVE_KEYS", "Go2TrainConfig", "MujocoTask", "checkpoint_files", "load_train_config", "read_curve",
           "resume_checkpoint", "train"]


class MujocoTask:
    """:class:`MujocoGo2Env` with the Isaac task's interface on CPU tensors (what :func:`run_ppo` steps):
    ``obs_buf``, ``privileged_obs_buf`` (of the current episodes, i.e. after the resets), ``get_obs_history()``,
    ``step(actions) -> (obs, priv, reward, done, extras)`` and ``sampler``. The tensors share memory with fresh
    numpy arrays (no copy besides the history's)."""

    def __init__(self, env: MujocoGo2Env):
        self.env, self.num_envs, self.sampler = env, env.num_envs, env.sampler
        self.obs_buf = torch.from_numpy(env.obs.copy())
        self.privileged_obs_buf = torch.from_numpy(env.privileged())
        self._history = torch.from_numpy(env.get_obs_history().copy())

    def get_obs_history(self) -> torch.Tensor:
        """``[N, history_len*70]`` observation history after the last step."""
        return self._history

    def stagger_episodes(self, seed: int) -> None:
        """See :meth:`MujocoGo2Env.stagger_episodes`."""
        self.env.stagger_episodes(seed)

    def step(self, actions: torch.Tensor):
        """One policy step of every env; finished envs are reset (their obs / privileged are the new episode's)."""
        obs, priv, rew, done, info = self.env.step(actions.cpu().numpy())
        if done.any():  # the critic's input of the new episodes
            priv = self.env.privileged()
        self.obs_buf, self.privileged_obs_buf = torch.from_numpy(obs), torch.from_numpy(priv)
        self._history = torch.from_numpy(info["obs_history"].copy())  # a view of the engine's ring buffer
        extras = {k: torch.from_numpy(np.asarray(info[k])) for k in EXTRAS_KEYS}
        if "episode" in info:
            extras["episode"] = info["episode"]
        return self.obs_buf, self.privileged_obs_buf, torch.from_numpy(rew), torch.from_numpy(done), extras


def train(cfg: Go2TrainConfig, resume: bool = True, progress: bool = True) -> dict:
    """Train on MuJoCo (``cfg.env.num_envs`` envs, ``cfg.sim_threads`` simulation threads, ``cfg.torch_threads``
    torch threads); returns the final summary dict. Resumes from the latest checkpoint in ``cfg.run_dir``."""
    torch.set_num_threads(cfg.torch_threads)
    env = MujocoTask(MujocoGo2Env(cfg.env, seed=cfg.seed, nthread=cfg.sim_threads))
    return run_ppo(env, cfg, device="cpu", resume=resume, progress=progress, engine="mujoco")
