"""Train the Go2 walk-these-ways actor on MuJoCo (CPU). Resumes from the latest checkpoint in the run dir.

Example: ``python training/train_go2.py --config config/go2_train.yaml``
"""
from __future__ import annotations

import argparse
import json

from maa_go2.train import load_train_config, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True, help="YAML with a train: section (see config/go2_*.yaml)")
    ap.add_argument("--run-dir", default=None, help="override train.run_dir")
    ap.add_argument("--iterations", type=int, default=None, help="override train.iterations")
    ap.add_argument("--seed", type=int, default=None, help="override train.seed")
    ap.add_argument("--no-resume", action="store_true", help="start from scratch even if checkpoints exist")
    args = ap.parse_args()
    over = {k: v for k, v in (("run_dir", args.run_dir), ("iterations", args.iterations), ("seed", args.seed))
            if v is not None}
    cfg = load_train_config(args.config, over)
    summary = train(cfg, resume=not args.no_resume)
    print(json.dumps({k: summary.get(k) for k in ("iterations", "train_wall_clock_s", "env_steps")}))


if __name__ == "__main__":
    main()
