#!/usr/bin/env python
"""Memorization analysis of generated policies against the zoo they were trained on (docs/memorization.md).

    python training/memorization.py --zoo data/metaworld_zoo --generated generated.npy --out results/memorization
    python training/memorization.py --zoo data/metaworld_zoo --generator runs/metaworld_cfg_s0/generator \\
        --prompts-per-task 2 --candidates 4 --out results/memorization

Generated policies come either from a ``.npy`` file of flat parameters ``[G, P]`` or from a generator directory,
prompted with ``--prompts-per-task`` evenly spaced training prompts of every task in the (filtered) zoo. Each is
compared with the zoo's checkpoints (:func:`maa_generator.data.memorization.analyze`); behavior distances use the
nearest checkpoint's recorded ``traj_obs`` when the zoo has trajectories (parameters only otherwise). Writes
``OUT/memorization.json`` (summary + one row per generated policy) and ``OUT/memorization.png``; prints the
summary as the last line.
"""
from __future__ import annotations

import os

# one BLAS thread: the alignment multiplies many small matrices, where extra threads only add contention
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from maa_generator.data import memorization as mem  # noqa: E402
from maa_generator.data.zoo import Zoo, ZooError  # noqa: E402


def _args(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo", required=True, help="zoo directory (the generator's training data)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--generated", help=".npy file of generated flat parameters [G, P]")
    src.add_argument("--generator", help="generator directory (prompted with the zoo's own prompts)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--tasks", nargs="*", default=None, help="restrict the zoo (and prompts) to these tasks")
    ap.add_argument("--prompts-per-task", type=int, default=2)
    ap.add_argument("--candidates", type=int, default=2, help="generated policies per prompt")
    ap.add_argument("--sample", type=int, default=256, help="bank checkpoints for the bank NN distribution")
    ap.add_argument("--prefilter", type=int, default=32,
                    help="candidates aligned per bank checkpoint for the bank NN distribution (0: whole bank)")
    ap.add_argument("--generated-prefilter", type=int, default=0,
                    help="candidates aligned per generated policy (0: whole bank, exact)")
    ap.add_argument("--interp-candidates", type=int, default=16,
                    help="interpolations are sought between pairs of this many nearest checkpoints")
    ap.add_argument("--max-states", type=int, default=500, help="recorded states per behavior comparison")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--replica-quantile", type=float, default=mem.REPLICA_QUANTILE)
    ap.add_argument("--interp-quantile", type=float, default=mem.INTERP_QUANTILE)
    ap.add_argument("--interp-margin", type=float, default=mem.INTERP_MARGIN)
    ap.add_argument("--behavior-tol", type=float, default=mem.BEHAVIOR_TOL)
    return ap.parse_args(argv)


def generate_from_zoo(generator_dir: str, zoo: Zoo, per_task: int, candidates: int, seed: int) -> np.ndarray:
    """``[tasks * per_task * candidates, P]`` policies generated from evenly spaced training prompts of each task."""
    from maa_core.layout import require_same_layout
    from maa_generator.models.generator import Generator

    gen = Generator.load(generator_dir)
    require_same_layout(zoo.layout, gen.layout, "generator")
    flats = []
    for task in zoo.tasks:
        h, v = zoo.prompts(task)
        rows = np.unique(np.linspace(0, len(h) - 1, per_task).round().astype(int))
        flats += [p.flat for p in gen.generate_from_prompts(h[rows], v[rows], candidates, seed)]
    return np.stack(flats)


def states_of(zoo: Zoo, max_states: int):
    """``bank index -> [<= max_states, obs_dim]`` recorded states of that checkpoint, or None without trajectories."""
    try:
        traj_obs = zoo.trajectories()["traj_obs"]
    except ZooError:
        return None

    def states(index: int) -> np.ndarray:
        obs = np.asarray(traj_obs[index], np.float32).reshape(-1, zoo.layout.obs_dim)
        return obs[np.unique(np.linspace(0, len(obs) - 1, min(max_states, len(obs))).round().astype(int))]

    return states


def rows_of(report: mem.MemorizationReport, meta: list[dict]) -> list[dict]:
    """One JSON row per generated policy."""
    def opt(values, g):
        return None if values is None else float(values[g])

    out = []
    for g, label in enumerate(report.labels):
        near = int(report.nearest[g, 0])
        out.append({"index": g, "label": str(label), "nearest": near, "nearest_task": meta[near].get("task"),
                    "nearest_run": meta[near].get("run"), "nearest_step": meta[near].get("step"),
                    "param_dist": float(report.param_dist[g]), "raw_dist": float(report.raw_dist[g]),
                    "interp_dist": float(report.interp_dist[g]), "interp_pair": report.interp_pair[g].tolist(),
                    "interp_alpha": float(report.interp_alpha[g]), "behavior": opt(report.behavior, g),
                    "noise_behavior": opt(report.noise_behavior, g),
                    "average_behavior": opt(report.average_behavior, g)})
    return out


def main(argv=None) -> int:
    args = _args(argv)
    zoo = Zoo.open(args.zoo)
    if args.tasks:
        zoo = zoo.filter(tasks=args.tasks)
    if args.generated:
        generated = zoo.layout.check_flat(np.atleast_2d(np.load(args.generated)), batched=True)
    else:
        generated = generate_from_zoo(args.generator, zoo, args.prompts_per_task, args.candidates, args.seed)
    thresholds = {"replica_quantile": args.replica_quantile, "interp_quantile": args.interp_quantile,
                  "interp_margin": args.interp_margin, "behavior_tol": args.behavior_tol}
    report = mem.analyze(generated, zoo.params(), zoo.layout, obs=states_of(zoo, args.max_states),
                         sample=args.sample, prefilter=args.prefilter or None,
                         generated_prefilter=args.generated_prefilter or None,
                         interp_candidates=args.interp_candidates, seed=args.seed, **thresholds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"zoo": str(args.zoo), "source": args.generated or args.generator, **report.summary()}
    (out / "memorization.json").write_text(json.dumps({"summary": summary,
                                                        "policies": rows_of(report, zoo.metadata)}, indent=1))
    mem.plot_memorization(report, out / "memorization.png")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
