#!/usr/bin/env python
"""Decoded-policy quality of a MetaWorld training run's autoencoder on its held-out checkpoints.

    python training/check_autoencoder.py runs/metaworld_small [--ae-rows 40] [--episodes 3]

For ``--ae-rows`` validation checkpoints of the run's own split (never trained on): parameter MSE and cosine of the
reconstruction, and per-task success of the original vs the decoded policies (``--episodes`` random configurations
each; :func:`maa_manip.eval_protocol.check_autoencoder`). Writes ``RUN_DIR/ae_check.json``; prints it as the last
line.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from maa_core.config import resolve_path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", metavar="RUN_DIR", help="a training/train.py run directory")
    ap.add_argument("--zoo", default="data/metaworld_zoo")
    ap.add_argument("--ae-rows", type=int, default=40, help="held-out checkpoints to check")
    ap.add_argument("--episodes", type=int, default=3, help="random initial configurations per policy")
    ap.add_argument("--episode-steps", type=int, default=500)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    import torch

    from maa_manip.eval_protocol import check_autoencoder

    torch.set_num_threads(1)
    run = resolve_path(args.run_dir, ROOT)
    rep = check_autoencoder(run, resolve_path(args.zoo, ROOT), args.ae_rows, args.episodes, args.episode_steps)
    (run / "ae_check.json").write_text(json.dumps(rep, indent=1))
    print(json.dumps(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
