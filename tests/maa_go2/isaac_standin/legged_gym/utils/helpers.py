"""Stand-in ``legged_gym.utils.helpers``: config <-> dict, sim params from a config, the command line."""
import random

import numpy as np
import torch
from isaacgym import gymapi, gymutil


def class_to_dict(obj) -> dict:
    if not hasattr(obj, "__dict__"):
        return obj
    out = {}
    for key in dir(obj):
        if key.startswith("_"):
            continue
        value = getattr(obj, key)
        out[key] = [class_to_dict(v) for v in value] if isinstance(value, list) else class_to_dict(value)
    return out


def update_class_from_dict(obj, data: dict) -> None:
    for key, value in data.items():
        attr = getattr(obj, key, None)
        if isinstance(attr, type):
            update_class_from_dict(attr, value)
        else:
            setattr(obj, key, value)


def set_seed(seed: int) -> None:
    if seed == -1:
        seed = np.random.randint(0, 10000)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def parse_sim_params(args, cfg: dict):
    """``gymapi.SimParams`` from the command line and ``{"sim": class_to_dict(env_cfg.sim)}``."""
    sim_params = gymapi.SimParams()
    if args.physics_engine == gymapi.SIM_PHYSX:
        sim_params.physx.use_gpu = args.use_gpu
        sim_params.physx.num_subscenes = args.subscenes
    sim_params.use_gpu_pipeline = args.use_gpu_pipeline
    if "sim" in cfg:
        gymutil.parse_sim_config(cfg["sim"], sim_params)
    if args.physics_engine == gymapi.SIM_PHYSX and args.num_threads > 0:
        sim_params.physx.num_threads = args.num_threads
    return sim_params


def update_cfg_from_args(env_cfg, cfg_train, args):
    if env_cfg is not None and args.num_envs is not None:
        env_cfg.env.num_envs = args.num_envs
    if cfg_train is not None:
        if args.seed is not None:
            cfg_train.seed = args.seed
        if args.max_iterations is not None:
            cfg_train.runner.max_iterations = args.max_iterations
        for key in ("experiment_name", "run_name", "load_run", "checkpoint"):
            if getattr(args, key) is not None:
                setattr(cfg_train.runner, key, getattr(args, key))
        if args.resume:
            cfg_train.runner.resume = args.resume
    return env_cfg, cfg_train


def get_args(argv=None):
    custom = [
        {"name": "--task", "type": str, "default": "go2"},
        {"name": "--resume", "action": "store_true", "default": False},
        {"name": "--experiment_name", "type": str},
        {"name": "--run_name", "type": str},
        {"name": "--load_run", "type": str},
        {"name": "--checkpoint", "type": int},
        {"name": "--headless", "action": "store_true", "default": False},
        {"name": "--horovod", "action": "store_true", "default": False},
        {"name": "--rl_device", "type": str, "default": "cuda:0"},
        {"name": "--num_envs", "type": int},
        {"name": "--seed", "type": int},
        {"name": "--max_iterations", "type": int},
    ]
    args = gymutil.parse_arguments(description="RL Policy", custom_parameters=custom, argv=argv)
    args.sim_device_id = args.compute_device_id
    args.sim_device = args.sim_device_type
    if args.sim_device == "cuda":
        args.sim_device += f":{args.sim_device_id}"
    return args
