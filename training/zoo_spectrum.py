#!/usr/bin/env python
"""How wide must the autoencoder be for this zoo? Per-layer PCA of the (standardized) checkpoints.

    python training/zoo_spectrum.py --zoo data/metaworld_paper_zoo --tasks window-open door-open ... --rows 3000

Prints, per linear layer, the fraction of variance the top ``k`` principal components hold for each ``--ks``
(:mod:`maa_generator.data.spectrum`): an autoencoder whose per-layer decoder has ``k`` hidden units cannot get its
normalized validation loss below ``1 - fraction``. Writes ``--out`` (JSON) if given; the last line is the JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo", required=True)
    ap.add_argument("--tasks", nargs="*", default=None, help="restrict to these tasks (default: all)")
    ap.add_argument("--rows", type=int, default=3000, help="random checkpoints used (all if fewer)")
    ap.add_argument("--ks", type=int, nargs="+", default=[20, 36, 72, 128, 256, 512])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="JSON file to write")
    args = ap.parse_args(argv)

    from maa_generator.data.spectrum import layer_spectra
    from maa_generator.data.zoo import Zoo

    zoo = Zoo.open(args.zoo)
    if args.tasks:
        zoo = zoo.filter(tasks=args.tasks)
    n = zoo.num_checkpoints
    if n < 2:
        raise SystemExit(f"{args.zoo}: {n} checkpoint(s) after filtering; need at least 2")
    rows = np.sort(np.random.default_rng(args.seed).choice(n, min(args.rows, n), replace=False))
    spectra = layer_spectra(np.asarray(zoo.params()[rows]), zoo.layout, args.ks)
    for s in spectra:
        print(f"layer {s['layer']} {s['shape']}: " + ", ".join(f"k={k}: {v:.3f}" for k, v in s["explained"].items()))
    result = {"zoo": args.zoo, "tasks": args.tasks, "rows": len(rows), "layers": spectra}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
