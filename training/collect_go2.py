"""Collect the Go2 zoo from trained runs: actor checkpoints + segmented trajectory prompts.

Example::

    python training/collect_go2.py --config config/go2_collect.yaml
"""
from __future__ import annotations

import argparse
import json

from maa_core.config import from_dict, load_yaml
from maa_go2.collect import CollectConfig, collect


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="YAML with a collect: section")
    ap.add_argument("--out", default=None, help="override collect.out")
    args = ap.parse_args()
    data = load_yaml(args.config)
    data = data.get("collect", data)
    if args.out:
        data = {**data, "out": args.out}
    print(json.dumps({"written": collect(from_dict(CollectConfig, data))}))


if __name__ == "__main__":
    main()
