#!/usr/bin/env python
"""Evaluate generated MetaWorld policies and baselines (Make-An-Agent protocol, see docs/manipulation.md).

    python training/evaluate.py --config config/metaworld_eval.yaml --generator runs/mw/generator
    python training/evaluate.py --config config/metaworld_eval.yaml --num-prompts 10 --episodes 2   # quick

For each task: ``num_prompts`` prompt trajectories (episode 0 of random zoo checkpoints of that task, optional
Gaussian action noise), one policy per prompt and method, ``episodes`` random initial configurations each.
Methods: ``maa`` (the generator, if given), ``source`` (the prompts' own policies, reference), and the
configured baselines. Writes ``results.json``, ``results.md`` and ``plots/*.png`` into ``--out``; the last
printed line is a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("evaluate")


def _abs(p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() else ROOT / path


def select_prompts(zoo, task: str, k: int, rng: np.random.Generator, min_success: float = 0.0) -> list[int]:
    """Row indices (within the task's view) of ``k`` prompt checkpoints with ``success >= min_success`` (with
    replacement if too few)."""
    ok = [i for i, m in enumerate(zoo.filter(tasks=[task]).metadata) if (m.get("success") or 0.0) >= min_success]
    if not ok:
        raise SystemExit(f"task {task}: no checkpoint with success >= {min_success} to take prompts from")
    return sorted(rng.choice(ok, size=k, replace=len(ok) < k).tolist())


def prompt_trajectories(zoo, task: str, rows: list[int]):
    from maa_generator.prompt import Trajectory

    tr = zoo.trajectories(task)
    obs, act, suc = tr["traj_obs"][rows], tr["traj_act"][rows], tr["traj_success"][rows]
    return [Trajectory(obs[i, 0], act[i, 0], suc[i, 0], 0.0125, "metaworld", task) for i in range(len(rows))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config" / "metaworld_eval.yaml"))
    ap.add_argument("--generator", help="generator checkpoint directory (omit: baselines only)")
    ap.add_argument("--zoo")
    ap.add_argument("--out")
    ap.add_argument("--num-prompts", type=int)
    ap.add_argument("--episodes", type=int)
    ap.add_argument("--episode-steps", type=int)
    ap.add_argument("--prompt-noise", type=float)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    import torch

    from maa_generator.prompt import success_prompt
    from maa_generator.zoo import Zoo
    from maa_manip.baselines import RetrievalBaseline, finetune_bc, generator_embed_fn, pretrain_bc
    from maa_manip.config import load_eval_config, to_dict
    from maa_manip.envs import SEEN_TASKS, UNSEEN_TASKS
    from maa_manip.evaluation import (
        cosine,
        evaluate_policies,
        markdown_tables,
        nearest_cosine,
        noisy_trajectory,
        plot_trajectory_difference,
        rollout_in_config,
        task_metrics,
    )

    torch.set_num_threads(1)
    over = {k: v for k, v in (("generator", args.generator), ("zoo", args.zoo), ("out", args.out),
                              ("num_prompts", args.num_prompts), ("episodes", args.episodes),
                              ("episode_steps", args.episode_steps), ("prompt_noise", args.prompt_noise))
            if v is not None}
    cfg = load_eval_config(args.config, over)
    out = _abs(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    zoo = Zoo.open(_abs(cfg.zoo))
    seen = cfg.seen_tasks or [t for t in SEEN_TASKS if t in zoo.tasks]
    unseen = cfg.unseen_tasks or [t for t in UNSEEN_TASKS if t in zoo.tasks]
    train_zoo = zoo.filter(tasks=seen) if seen else zoo
    gen = None
    if cfg.generator:
        from maa_generator.generator import Generator

        gen = Generator.load(_abs(cfg.generator))
    bank_h, bank_v = (np.asarray(x) for x in train_zoo.prompts())
    bank_params = train_zoo.params()
    retr = RetrievalBaseline(bank_params, bank_h, bank_v, generator_embed_fn(gen) if gen is not None else None)
    bc_init = None
    if "bc" in cfg.baselines:
        tr = train_zoo.trajectories()
        good = [i for i, m in enumerate(train_zoo.metadata) if (m.get("success") or 0) >= 0.5][:400]
        obs = np.asarray(tr["traj_obs"][good]).reshape(-1, 39)
        act = np.asarray(tr["traj_act"][good]).reshape(-1, 4)
        bc_init = pretrain_bc(obs, act, steps=cfg.bc_steps * 4, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed)  # prompt selection
    noise_rng = np.random.default_rng(cfg.seed + 1)  # prompt noise: same prompts with and without noise
    results: dict = {"seen": {}, "unseen": {}}
    extra: dict = {}
    t0 = time.time()
    for split, tasks in (("seen", seen), ("unseen", unseen)):
        for task in tasks:
            rows = select_prompts(zoo, task, cfg.num_prompts, rng, cfg.prompt_min_success)
            src = np.asarray(zoo.params(task)[rows])
            task_meta = zoo.filter(tasks=[task]).metadata
            meta = [task_meta[r] for r in rows]
            trajs = [noisy_trajectory(t, cfg.prompt_noise, noise_rng) for t in prompt_trajectories(zoo, task, rows)]
            hv = [success_prompt(t.obs, t.act, t.success, zoo.prompt["n"], zoo.prompt["m"]) for t in trajs]
            h, v = np.stack([x[0] for x in hv]), np.stack([x[1] for x in hv])
            methods = {"source": src}
            if gen is not None:
                methods["maa"] = np.stack([p.flat for p in gen.generate(trajs, 1, cfg.seed)])
            if "retrieval" in cfg.baselines:
                methods["retrieval"] = retr.retrieve(h, v)
            if "retrieval_noise" in cfg.baselines:
                methods["retrieval_noise"] = retr.retrieve(h, v, cfg.retrieval_noise_std, cfg.seed)
            if bc_init is not None:
                methods["bc"] = finetune_bc(bc_init, np.stack([t.obs for t in trajs]),
                                            np.stack([t.act for t in trajs]), steps=cfg.bc_steps)
            for name, params in methods.items():
                succ = evaluate_policies(task, params, cfg.episodes, cfg.seed, cfg.episode_steps)
                results[split].setdefault(name, {})[task] = task_metrics(succ)
                log.info("%s %s %s: %s", split, task, name, results[split][name][task])
            cand = methods.get("maa", methods.get("retrieval"))
            if cand is not None:
                sim_train, _ = nearest_cosine(cand, bank_params)
                extra[task] = {"cos_to_source_mean": float(cosine(cand, src).mean()),
                               "cos_to_nearest_train_mean": float(sim_train.mean()),
                               "method": "maa" if "maa" in methods else "retrieval"}
                for i in range(min(cfg.plots, len(trajs))):
                    gt = rollout_in_config(task, cand[i], int(meta[i].get("init_seed", 0)), cfg.episode_steps)
                    plot_trajectory_difference(trajs[i], gt, out / "plots" / f"{task}_{i}.png",
                                               f"{task}: prompt vs {extra[task]['method']} (prompt {i})")
    md = markdown_tables(results)
    (out / "results.md").write_text(f"# MetaWorld evaluation\n\nconfig: `{json.dumps(to_dict(cfg))}`\n\n{md}\n")
    summary = {"results": results, "similarity": extra, "config": to_dict(cfg), "seconds": round(time.time() - t0, 1)}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    print(md)
    print(json.dumps({"out": str(out), "seconds": summary["seconds"], "tasks": seen + unseen,
                      "methods": sorted({m for s in results.values() for m in s})}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
