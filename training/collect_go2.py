"""Collect the Go2 zoo from trained runs: actor checkpoints + segmented trajectory prompts.

Example::

    python training/collect_go2.py --config config/go2_collect.yaml
    python training/collect_go2.py --config config/go2_collect.yaml --set collect.every=5 --out runs/go2_zoo_sparse
"""
from __future__ import annotations

import argparse
import json

from maa_core.config import ConfigError, add_config_arguments, override
from maa_go2.collect import collect, load_collect_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap, help="YAML with a collect: section (overrides: --set collect.KEY=VALUE)")
    ap.add_argument("--out", default=None, help="= --set collect.out=DIR")
    args = ap.parse_args()
    shorthand = [override("collect.out", args.out)] if args.out else []
    try:
        cfg = load_collect_config(args.config, shorthand + args.overrides)
    except ConfigError as exc:
        ap.error(str(exc))
    print(json.dumps({"written": collect(cfg)}))


if __name__ == "__main__":
    main()
