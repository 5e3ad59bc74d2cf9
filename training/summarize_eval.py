#!/usr/bin/env python
"""Merge MetaWorld evaluation runs (``training/evaluate.py`` outputs, same prompts, different methods) into one summary.

    python training/summarize_eval.py DIR1 DIR2 ... --out results/metaworld [--command "how it was made"]

Writes ``summary.json``, ``results.md`` and ``top5.png`` into ``--out`` (:func:`maa_manip.eval_protocol.summarize`:
several runs with a ``maa`` method are generator seeds, averaged into the headline and listed as ``maa_run<i>``);
prints the summary as the last line. The zoo (``--zoo``) gives the checkpoint counts per task.
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
    ap.add_argument("eval_dirs", nargs="+", metavar="EVAL_DIR", help="evaluation runs (each with results.json)")
    ap.add_argument("--out", default="results/metaworld", help="where summary.json, results.md, top5.png go")
    ap.add_argument("--zoo", default="data/metaworld_zoo")
    ap.add_argument("--command", default="", help="the command recorded in summary.json")
    ap.add_argument("--title", default="MetaWorld results (merged)", help="heading of results.md")
    args = ap.parse_args(argv)

    from maa_manip.eval_protocol import summarize

    summary = summarize([resolve_path(d, ROOT) for d in args.eval_dirs], resolve_path(args.out, ROOT), args.command,
                        resolve_path(args.zoo, ROOT), root=ROOT, title=args.title)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
