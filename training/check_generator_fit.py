#!/usr/bin/env python
"""Training fit of a MetaWorld generator run: does it reproduce training checkpoints from their own prompts?

    python training/check_generator_fit.py runs/metaworld_paper_s0 --zoo data/metaworld_paper_zoo \
        --tasks window-open drawer-open --rows 40 --guidance 0.5 1.0

No simulator: for ``--rows`` successful checkpoints per task, the generated policy's actions on the checkpoint's
stored episode are compared with the checkpoint's own, next to the autoencoder's reconstruction and another
checkpoint of the task; generated latents' distance to the nearest training latent is set against the training
latents' own nearest-neighbour distance (:mod:`maa_manip.generator_fit`). Run it before a long evaluation: a
generator whose samples miss the training latents by far more than they lie apart will not pass it either.
Writes ``RUN_DIR/generator_fit.json`` and prints it as the last line.
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
    ap.add_argument("run_dir", metavar="RUN_DIR", help="a training/train.py run directory (with generator/)")
    ap.add_argument("--zoo", default="data/metaworld_zoo")
    ap.add_argument("--tasks", nargs="+", help="seen tasks to check (default: the run's data.tasks, else every task)")
    ap.add_argument("--rows", type=int, default=40, help="checkpoints per task (success >= 0.8 where there are)")
    ap.add_argument("--guidance", type=float, nargs="*", default=[],
                    help="guidance weights to compare (default: the generator's own only)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    import yaml

    from maa_generator.data.checkpoint import CheckpointError
    from maa_generator.data.zoo import Zoo, ZooError
    from maa_generator.models.diffusion import DiffusionError
    from maa_generator.models.generator import Generator
    from maa_manip.generator_fit import fit_rows, prompt_fit

    torch.set_num_threads(1)
    run = resolve_path(args.run_dir, ROOT)
    try:
        gen = Generator.load(run / "generator")
        zoo = Zoo.open(resolve_path(args.zoo, ROOT))
    except (CheckpointError, ZooError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tasks = args.tasks or yaml.safe_load((run / "config.yaml").read_text())["data"]["tasks"] or zoo.tasks
    missing = [t for t in tasks if t not in zoo.tasks]
    if missing:
        print(f"error: {args.zoo} has no checkpoints of task(s) {missing}; it has {zoo.tasks}", file=sys.stderr)
        return 2
    cache = run / "cache" / "latents.npy"
    bank = torch.from_numpy(np.load(cache)) if cache.is_file() else None
    rng = np.random.default_rng(args.seed)
    results = []
    for task in tasks:
        rows = fit_rows(zoo.filter(tasks=[task]).metadata, args.rows, rng)
        try:
            res = prompt_fit(gen, zoo, task, rows, bank, [None, *args.guidance], seed=args.seed)
        except (DiffusionError, ValueError) as exc:
            print(f"error: {task}: {exc}", file=sys.stderr)
            return 2
        print(task, json.dumps({k: res[k] for k in ("action_mse", "latent")}), flush=True)
        results.append(res)
    summary = {"run": str(run), "bank": "cache/latents.npy" if bank is not None else "task checkpoints",
               "tasks": results}
    (run / "generator_fit.json").write_text(json.dumps(summary, indent=1))
    mean_mse = {k: float(np.mean([r["action_mse"][k] for r in results])) for k in results[0]["action_mse"]}
    print(json.dumps({k: v for k, v in summary.items() if k != "tasks"} | {"mean_action_mse": mean_mse}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
