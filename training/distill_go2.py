"""Distill gait teachers (Go2 PPO checkpoints) into one actor on MuJoCo (CPU), resumably (``maa_go2.distill``).

The YAML has a ``train:`` section (the task: commands, randomization, run directory, iterations, save interval; the
same keys as ``training/train_go2.py``) and a ``distill:`` section (``teachers``: gait -> checkpoint,
``student_init``, the regression's ``lr``, ``epochs``, ``minibatches``, ``teacher_iterations``).

Examples::

    python training/distill_go2.py --config config/go2_agility_v11.yaml
    python training/distill_go2.py --config config/go2_agility_v11.yaml --set train.iterations=5

On Isaac Gym: ``python -m maa_go2.engines.isaac_runner --config <file> --distill`` (the same regression and run
directory).
"""
from __future__ import annotations

import argparse
import json

from maa_core.config import ConfigError, add_config_arguments
from maa_go2.distill import check_gaits, load_distill_config
from maa_go2.train_config import load_train_config


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap, help="YAML with train: and distill: sections; --set train.KEY=VALUE / distill.KEY=VALUE")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        cfg = load_train_config(args.config, [o for o in args.overrides if o.startswith("train.")])
        dcfg = load_distill_config(args.config, [o for o in args.overrides if o.startswith("distill.")])
        check_gaits(cfg, dcfg)
    except (ConfigError, ValueError) as exc:
        ap.error(str(exc))
    import torch

    from maa_go2.distill import run_distill
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.train import MujocoTask

    torch.set_num_threads(cfg.torch_threads)
    env = MujocoTask(MujocoGo2Env(cfg.env, seed=cfg.seed, nthread=cfg.sim_threads))
    summary = run_distill(env, cfg, dcfg, progress=not args.no_progress)
    print(json.dumps({k: summary.get(k) for k in ("iterations", "train_wall_clock_s", "teacher_wall_clock_s",
                                                   "env_steps")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
