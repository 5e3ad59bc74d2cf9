#!/usr/bin/env python3
"""Train the Make-An-Agent generator: autoencoder -> embedding -> latent diffusion.

Examples::

    python training/train.py --config config/tiny.yaml --synthetic --out runs/tiny          # CI, synthetic zoo
    python training/train.py --config config/paper.yaml --zoo data/zoo_metaworld --out runs/mw --device cuda
    python training/train.py --config config/paper.yaml --zoo ZOO --out runs/mw --resume    # continue after a crash
    python training/train.py --config config/tiny.yaml --synthetic --set train.seed=3 --set data.tasks=[t0,t1]
    torchrun --nproc_per_node 2 training/train.py --config config/default.yaml --zoo ZOO --out runs/ddp

The final generator is written to ``<out>/generator`` (load with ``maa_generator.models.generator.Generator.load``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from maa_core.config import ConfigError, add_config_arguments
from maa_generator.training.distributed import init_distributed, shutdown
from maa_generator.training.trainer import STAGES, load_run_config, run_training


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(p, help="preset YAML (config/tiny.yaml, default.yaml, paper.yaml)")
    p.add_argument("--stage", default="all", choices=[*STAGES, "all"])
    p.add_argument("--resume", action="store_true", help="continue from <out>/stages/*/last")
    p.add_argument("--zoo", default=None, help="policy zoo directory (overrides data.zoo)")
    p.add_argument("--synthetic", action="store_true",
                   help="with no zoo, build a small SYNTHETIC zoo under <out>/synthetic_zoo (CI only)")
    p.add_argument("--out", default="runs/default", help="run directory")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (DDP ranks use cuda:LOCAL_RANK)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    overrides = list(args.overrides) + (["data.synthetic=true"] if args.synthetic else [])
    try:
        cfg = load_run_config(args.config, overrides)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    info = init_distributed(args.device)
    if info.is_main:
        print(f"training stage={args.stage} out={args.out} device={info.device} world_size={info.world_size}",
              flush=True)
    t0 = time.monotonic()
    try:
        summary = run_training(cfg, args.out, stage=args.stage, resume=args.resume, zoo_path=args.zoo, info=info)
    except (ConfigError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        shutdown(info)
    if info.is_main:
        summary["wall_s"] = round(time.monotonic() - t0, 2)
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
