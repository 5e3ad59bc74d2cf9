"""Register the Go2 walk-these-ways task with legged_gym's task registry (the GPU box's Python 3.8).

legged_gym / unitree_rl_gym register their own tasks in ``legged_gym/envs/__init__.py``; this module adds
``go2_wtw`` without editing their checkout::

    from maa_go2.engines.register_isaac import register, make_env
    register()                                   # Go2WTW + Go2WTWCfg() + Go2WTWCfgPPO()
    env = make_env("go2_wtw", ["--sim_device", "cuda:0", "--headless", "--num_envs", "4096"])

``python -m maa_go2.engines.register_isaac [legged_gym options]`` registers the task, builds it and steps it once
(a smoke test of the installation). Training: ``python -m maa_go2.engines.isaac_runner``. Import this module (or
:mod:`maa_go2.engines.isaacgym_go2`) before anything that imports torch: Isaac Gym refuses to load after torch.
"""
from __future__ import annotations

import sys

from maa_go2.engines.isaacgym_go2 import _IMPORT_ERROR, HAVE_ISAACGYM, MISSING_MSG, Go2WTW
from maa_go2.engines.legged_gym_config import Go2WTWCfg, Go2WTWCfgPPO, apply_env_config

TASK_NAME = "go2_wtw"


def default_registry():
    """legged_gym's global ``task_registry`` (importing it imports legged_gym's own tasks and rsl_rl)."""
    if not HAVE_ISAACGYM:
        raise ImportError(MISSING_MSG.format(err=_IMPORT_ERROR))
    from legged_gym.utils.task_registry import task_registry

    return task_registry


def register(name: str = TASK_NAME, env_cfg=None, train_cfg=None, env_config=None, registry=None):
    """Register :class:`Go2WTW` as ``name``; returns the registry.

    Args:
        env_cfg: a ``Go2WTWCfg`` instance (default: a fresh one).
        train_cfg: a ``Go2WTWCfgPPO`` instance (its ``seed`` becomes the env's seed in ``make_env``).
        env_config: a :class:`maa_go2.env_config.EnvConfig` applied to ``env_cfg`` (one YAML for both engines).
        registry: default: legged_gym's global ``task_registry``.
    """
    registry = registry if registry is not None else default_registry()
    env_cfg = env_cfg if env_cfg is not None else Go2WTWCfg()
    train_cfg = train_cfg if train_cfg is not None else Go2WTWCfgPPO()
    if env_config is not None:
        apply_env_config(env_cfg, env_config)
    if hasattr(env_cfg, "seed"):
        train_cfg.seed = env_cfg.seed  # legged_gym's get_cfgs copies train_cfg.seed onto the env config
    registry.register(name, Go2WTW, env_cfg, train_cfg)
    return registry


def make_env(name: str = TASK_NAME, argv=None, registry=None):
    """Build the registered task with legged_gym's command-line options ``argv`` (``--sim_device``, ``--headless``,
    ``--num_envs``, ``--pipeline`` ...; default: ``sys.argv[1:]``); returns the environment."""
    registry = registry if registry is not None else default_registry()
    from legged_gym.utils.helpers import get_args

    saved = sys.argv
    sys.argv = [saved[0], *(saved[1:] if argv is None else argv)]
    try:
        args = get_args()
    finally:
        sys.argv = saved
    env, _ = registry.make_env(name=name, args=args)
    return env


def main(argv=None) -> None:  # pragma: no cover - needs Isaac Gym
    """Register, build and step the task once; prints what was built."""
    import torch

    register()
    env = make_env(TASK_NAME, argv)
    obs, priv, rew, done, _ = env.step(torch.zeros(env.num_envs, env.num_actions, device=env.device))
    print(f"{TASK_NAME}: {env.num_envs} envs on {env.device}: obs {list(obs.shape)}, privileged {list(priv.shape)}, "
          f"history {list(env.get_obs_history().shape)}, mean reward {float(rew.mean()):.4f}")


if __name__ == "__main__":  # pragma: no cover
    main()
