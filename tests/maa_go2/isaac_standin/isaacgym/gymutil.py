"""Stand-in ``isaacgym.gymutil``: device strings, sim config parsing and the command line."""
from __future__ import annotations

import argparse

from isaacgym import gymapi


def parse_device_str(device_str: str) -> tuple[str, int]:
    """``"cuda:1"`` -> ``("cuda", 1)``; ``"cpu"`` -> ``("cpu", 0)``."""
    kind, _, index = device_str.partition(":")
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"invalid device string {device_str!r}")
    return kind, int(index) if index else 0


def parse_sim_config(gymsim_cfg: dict, sim_params: gymapi.SimParams) -> None:
    """Copy a ``{"sim": {...}}`` config dict's values into ``sim_params`` (unknown PhysX names raise)."""
    for key in ("dt", "substeps", "use_gpu_pipeline"):
        if key in gymsim_cfg:
            setattr(sim_params, key, gymsim_cfg[key])
    if "gravity" in gymsim_cfg:
        sim_params.gravity = gymapi.Vec3(*gymsim_cfg["gravity"])
    if "up_axis" in gymsim_cfg:
        sim_params.up_axis = gymapi.UP_AXIS_Z if gymsim_cfg["up_axis"] == 1 else gymapi.UP_AXIS_Y
    for key, value in gymsim_cfg.get("physx", {}).items():
        setattr(sim_params.physx, key, value)


def parse_arguments(description: str = "Isaac Gym Example", headless: bool = False, no_graphics: bool = False,
                    custom_parameters=(), argv=None) -> argparse.Namespace:
    """The common Isaac Gym options plus ``custom_parameters`` (dicts of ``name`` and argparse keywords)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sim_device", type=str, default="cuda:0")
    parser.add_argument("--pipeline", type=str, default="gpu")
    parser.add_argument("--graphics_device_id", type=int, default=0)
    parser.add_argument("--flex", action="store_true")
    parser.add_argument("--physx", action="store_true")
    parser.add_argument("--num_threads", type=int, default=0)
    parser.add_argument("--subscenes", type=int, default=0)
    parser.add_argument("--slices", type=int)
    for param in custom_parameters:
        spec = dict(param)
        parser.add_argument(spec.pop("name"), **spec)
    args = parser.parse_args(argv)
    args.sim_device_type, args.compute_device_id = parse_device_str(args.sim_device)
    args.use_gpu = args.sim_device_type == "cuda"
    args.use_gpu_pipeline = args.pipeline.lower() in ("gpu", "cuda")
    args.physics_engine = gymapi.SIM_FLEX if args.flex else gymapi.SIM_PHYSX
    args.device = args.sim_device_type
    return args
