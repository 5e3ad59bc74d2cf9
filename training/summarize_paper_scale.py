#!/usr/bin/env python
"""Merge the paper-scale MetaWorld runs into ``results/metaworld/paper_scale/summary.json`` (issue 16).

    python training/summarize_paper_scale.py DIR1 DIR2 ... --memorization results/metaworld/paper_scale/memorization

``training/summarize_eval.py``'s merge (``results.md``, ``top5.png``, per-method means; generator runs averaged)
plus the issue's headline keys (:func:`maa_manip.paper_scale.headline`) at the top of ``summary.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from maa_core.config import resolve_path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eval_dirs", nargs="+", metavar="EVAL_DIR")
    ap.add_argument("--out", default="results/metaworld/paper_scale")
    ap.add_argument("--zoo", default="data/metaworld_paper_zoo")
    ap.add_argument("--memorization", help="directory with memorization.json (training/memorization_metaworld.py)")
    ap.add_argument("--command", default="", help="the command recorded in summary.json")
    args = ap.parse_args(argv)

    from maa_manip.eval_protocol import summarize
    from maa_manip.paper_scale import headline

    out = resolve_path(args.out, ROOT)
    merged = summarize([resolve_path(d, ROOT) for d in args.eval_dirs], out, args.command, resolve_path(args.zoo, ROOT),
                       root=ROOT)
    memo = None
    if args.memorization:
        path = resolve_path(args.memorization, ROOT) / "memorization.json"
        if not path.is_file():
            raise SystemExit(f"{path}: not found (run training/memorization_metaworld.py first)")
        memo = json.loads(path.read_text())
    summary = {**headline(merged, memo), "details": merged}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "details"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
