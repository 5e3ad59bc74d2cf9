#!/usr/bin/env python
"""Collect a MetaWorld policy zoo (SAC-layout checkpoints + prompts) with the DAgger or SAC collector.

    python training/collect_metaworld.py --config config/metaworld_dagger.yaml            # serial, resumable
    python training/collect_metaworld.py --config config/metaworld_dagger.yaml --workers 4 # Ray / process pool
    python training/collect_metaworld.py --config config/metaworld_tiny.yaml --collector sac --root /tmp/zoo
    python training/collect_metaworld.py --config config/metaworld_tiny.yaml --set seeds=[0] --set dagger.iterations=2
    python training/collect_metaworld.py --config config/robosuite_dagger.yaml --workers 2   # robosuite, Panda

The DAgger collector serves both suites (``domain: metaworld | robosuite``, :mod:`maa_manip.domains`).

Finished (task, seed) shards are skipped on restart; unfinished runs resume from ``<root>/partial/``.
The final line printed is a JSON summary (jobs, checkpoints, seconds, checkpoints per hour).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from maa_core.config import add_config_arguments, override

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap, ROOT / "config" / "metaworld_dagger.yaml", help="collection YAML")
    ap.add_argument("--collector", choices=["dagger", "sac"], help="= --set collector=NAME")
    ap.add_argument("--root", help="zoo directory (default: config root, relative to the repo); = --set root=DIR")
    ap.add_argument("--tasks", nargs="+", help="= --set tasks=[...]")
    ap.add_argument("--seeds", nargs="+", type=int, help="= --set seeds=[...]")
    ap.add_argument("--workers", type=int, default=1, help="parallel jobs (>1: Ray if installed, else a pool)")
    ap.add_argument("--backend", default="auto", choices=["auto", "ray", "pool"])
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    import torch
    from tqdm import tqdm

    from maa_manip.config import ConfigError, load_collect_config
    from maa_manip.jobs import open_writer, pending_jobs, run_serial
    from maa_manip.scaleout import run_parallel

    shorthand = [override(k, getattr(args, k)) for k in ("collector", "root", "tasks", "seeds")
                 if getattr(args, k) is not None]
    try:
        cfg = load_collect_config(args.config, shorthand + args.overrides)
    except ConfigError as exc:
        ap.error(str(exc))
    torch.set_num_threads(max(1, cfg.torch_threads))
    root = Path(cfg.root)
    if not root.is_absolute():
        root = ROOT / root
    writer = open_writer(cfg, root)
    jobs = pending_jobs(cfg, writer)
    t0 = time.time()
    tb = None
    try:
        from torch.utils.tensorboard import SummaryWriter

        tb = SummaryWriter(str(ROOT / cfg.tensorboard)) if cfg.tensorboard else None
    except ImportError:  # tensorboard is optional at run time
        logging.warning("tensorboard not installed: no TensorBoard logging")
    log_fn = (lambda tag, val, step: tb.add_scalar(tag, val, step)) if tb else None
    if args.workers > 1:
        with tqdm(total=len(jobs), desc="jobs", unit="job") as bar:
            entries = run_parallel(cfg, writer, jobs, args.workers, args.backend, bar)
    else:
        total = cfg.dagger.iterations if cfg.collector == "dagger" else cfg.sac.total_steps

        def bar(job):
            return tqdm(total=total, desc=job.key, unit="it" if cfg.collector == "dagger" else "step",
                        file=sys.stderr, mininterval=5)

        entries = run_serial(cfg, writer, jobs, bar, log_fn)
    if tb:
        tb.close()
    secs = time.time() - t0
    n = sum(e["num_checkpoints"] for e in entries)
    print(json.dumps({"root": str(root), "collector": cfg.collector, "jobs_done": len(entries),
                      "jobs_skipped": len(cfg.tasks) * len(cfg.seeds) - len(jobs), "checkpoints": n,
                      "seconds": round(secs, 1), "checkpoints_per_hour": round(n / max(secs, 1e-9) * 3600, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
