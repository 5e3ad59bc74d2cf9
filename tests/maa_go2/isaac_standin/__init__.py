"""A CPU stand-in of the Isaac Gym Preview 4 / legged_gym surface that ``maa_go2.engines.isaacgym_go2`` relies on.

Not a simulator: ``isaacgym.gymapi`` keeps the simulation state in CPU torch tensors and integrates a toy dynamics
(or replays prescribed states, see :class:`isaacgym.gymapi.Sim`), so the task's own code runs for real. Written from
the public API: the ``isaacgym-stubs`` signatures (the contract tests compare them) and the attributes and buffers that
legged_gym's / unitree_rl_gym's ``LeggedRobot`` reads and creates (the union of both). What it enforces, as the real
API does:

* value classes (``AssetOptions``, ``RigidShapeProperties``, ``SimParams.physx``, ...) accept only the attributes
  the real classes have (setting another raises AttributeError, as on pybind11 objects);
* tensors are acquired only after ``prepare_sim``; a wrapped tensor changes only when refreshed; writes reach the
  simulation only through ``set_*_tensor`` calls (indexed ones take int32 actor indices);
* the config classes hold legged_gym's defaults, so a task config that does not inherit them fails in
  ``_create_envs`` / ``_init_buffers`` exactly where the real ``LeggedRobot`` would.

Use :func:`activate` (the tests' fixture) to put it on ``sys.path`` ahead of everything else.
"""
from __future__ import annotations

import importlib
import sys
from argparse import Namespace
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent

#: project modules that import isaacgym / legged_gym (re-imported against the stand-in, restored afterwards)
PROJECT_MODULES = ("maa_go2.engines.legged_gym_config", "maa_go2.engines.isaacgym_go2",
                   "maa_go2.engines.register_isaac", "maa_go2.engines.isaac_runner")


def _swapped(name: str) -> bool:
    top = name.split(".")[0]
    return top in ("isaacgym", "legged_gym") or name in PROJECT_MODULES


@contextmanager
def activate():
    """Import the stand-in ``isaacgym`` / ``legged_gym`` and fresh copies of the project's Isaac modules; yields
    ``maa_go2.engines.isaacgym_go2``. Everything (``sys.modules``, package attributes, ``sys.path``) is restored on
    exit, so other tests keep seeing the real (absent) Isaac Gym."""
    import maa_go2.engines as engines

    saved = {k: v for k, v in sys.modules.items() if _swapped(k)}
    attrs = {n: getattr(engines, n.rsplit(".", 1)[1]) for n in PROJECT_MODULES if hasattr(engines, n.rsplit(".", 1)[1])}
    for key in saved:
        del sys.modules[key]
    sys.path.insert(0, str(ROOT))
    try:
        yield importlib.import_module("maa_go2.engines.isaacgym_go2")
    finally:
        sys.path.remove(str(ROOT))
        for key in [k for k in sys.modules if _swapped(k)]:
            del sys.modules[key]
        sys.modules.update(saved)
        for name in PROJECT_MODULES:
            short = name.rsplit(".", 1)[1]
            if name in attrs:
                setattr(engines, short, attrs[name])
            elif hasattr(engines, short):
                delattr(engines, short)


def sim_params_for(cfg):
    """``gymapi.SimParams`` from ``cfg.sim`` as legged_gym's task registry builds them (CPU pipeline)."""
    from isaacgym import gymapi
    from legged_gym.utils.helpers import class_to_dict, parse_sim_params

    args = Namespace(physics_engine=gymapi.SIM_PHYSX, use_gpu=False, subscenes=0, use_gpu_pipeline=False,
                     num_threads=0)
    return parse_sim_params(args, {"sim": class_to_dict(cfg.sim)})


def make_task(task_module, cfg):
    """``Go2WTW(cfg)`` on the stand-in's CPU pipeline, headless."""
    from isaacgym import gymapi

    return task_module.Go2WTW(cfg, sim_params_for(cfg), gymapi.SIM_PHYSX, "cpu", True)
