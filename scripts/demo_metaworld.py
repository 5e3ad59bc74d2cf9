#!/usr/bin/env python
"""MetaWorld demo: generate policies from a bundled prompt with the bundled generator and evaluate them.

    python scripts/demo_metaworld.py                       # models/metaworld/generator + prompts/metaworld_*.npz
    python scripts/demo_metaworld.py --prompt prompts/metaworld_door-close.npz --candidates 8 --episodes 3

Loads ``models/metaworld/generator`` (``Generator.load``), reads one prompt trajectory (``maa.prompt/1`` .npz),
samples ``--candidates`` policies (diffusion seed ``--seed``), runs each for ``--episodes`` random initial
configurations of the prompt's task (deterministic action, 500 steps, stop at success) and prints a table of
per-policy success rates plus top-1/top-5/mean. Takes well under two minutes on one CPU core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GENERATOR = ROOT / "models" / "metaworld" / "generator"


def default_prompt() -> Path:
    """The first bundled ``prompts/metaworld_*.npz`` (sorted); raises if none is bundled."""
    found = sorted((ROOT / "prompts").glob("metaworld_*.npz"))
    if not found:
        raise SystemExit(f"no bundled prompt prompts/metaworld_*.npz under {ROOT}")
    return found[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default=str(DEFAULT_GENERATOR))
    ap.add_argument("--prompt", help="prompt .npz (default: the bundled prompts/metaworld_*.npz)")
    ap.add_argument("--candidates", type=int, default=8, help="policies to generate")
    ap.add_argument("--episodes", type=int, default=3, help="random initial configurations per policy")
    ap.add_argument("--steps", type=int, default=500, help="episode length [env steps]")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.candidates < 1 or args.episodes < 1 or args.steps < 1:
        raise SystemExit("--candidates, --episodes and --steps must be >= 1")

    import torch

    from maa_generator.generator import Generator
    from maa_generator.prompt_io import load_prompt
    from maa_manip.evaluation import evaluate_policies

    torch.set_num_threads(1)
    prompt_path = Path(args.prompt) if args.prompt else default_prompt()
    traj = load_prompt(prompt_path)
    if traj.domain != "metaworld" or not traj.task:
        raise SystemExit(
            f"{prompt_path}: expected a MetaWorld prompt with a task name, got domain={traj.domain!r} "
            f"task={traj.task!r}"
        )
    t0 = time.time()
    gen = Generator.load(args.generator)
    policies = gen.generate(traj, args.candidates, args.seed)
    t_gen = time.time() - t0
    flat = np.stack([p.flat for p in policies])
    t1 = time.time()
    succ = evaluate_policies(traj.task, flat, args.episodes, args.seed, args.steps).mean(1)
    t_eval = time.time() - t1
    print(f"MetaWorld demo: task {traj.task}, prompt {prompt_path.name}, generator {args.generator}")
    print(
        f"{args.candidates} policies generated in {t_gen:.2f} s, evaluated on {args.episodes} random "
        f"configurations each in {t_eval:.1f} s"
    )
    print("| policy | success |\n|---|---|")
    for i, s in enumerate(succ):
        print(f"| {i} | {s:.2f} |")
    ranked = np.sort(succ)[::-1]
    summary = {
        "task": traj.task,
        "candidates": args.candidates,
        "episodes": args.episodes,
        "top1": float(ranked[0]),
        "top5": float(ranked[:5].mean()),
        "mean": float(succ.mean()),
        "generate_s": round(t_gen, 3),
        "evaluate_s": round(t_eval, 1),
        "prompt_novelty": None if policies[0].prompt_novelty is None else round(policies[0].prompt_novelty, 3),
    }
    print(f"top-1 {summary['top1']:.2f}  top-5 {summary['top5']:.2f}  mean {summary['mean']:.2f}  prompt novelty "
          f"{summary['prompt_novelty']} (about 1 = like the training prompts)")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
