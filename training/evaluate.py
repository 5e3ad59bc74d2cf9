#!/usr/bin/env python
"""Evaluate generated MetaWorld policies and baselines (Make-An-Agent protocol, see docs/manipulation.md).

    python training/evaluate.py --config config/metaworld_eval.yaml --generator runs/mw/generator
    python training/evaluate.py --config config/metaworld_eval.yaml --num-prompts 10 --episodes 2   # quick
    python training/evaluate.py --config config/metaworld_eval.yaml --set num_prompts=10 --set seen_tasks=[reach]
    python training/evaluate.py --config config/metaworld_eval_full.yaml --generator G --baselines none \
        --skip-source --out results/metaworld/eval_maa          # generator only, same prompts as a baseline run
    python training/evaluate.py --config config/metaworld_eval.yaml --generator G --video runs/mw_clips  # + clips

For each task: ``num_prompts`` prompt trajectories (episode 0 of random zoo checkpoints of that task, optional
Gaussian action noise), one policy per prompt and method, ``episodes`` random initial configurations each.
Methods: ``maa`` (the generator, if given), ``source`` (the prompts' own policies, reference), and the
configured baselines. Writes ``results.json``, ``results.md`` and ``plots/*.png`` into ``--out``; the last
printed line is a JSON summary. ``--video DIR`` also writes a clip per method for the first ``--video-prompts``
prompts of each task, side by side, with hand-path plots and ``DIR/index.md`` (docs/visuals.md). Merge runs with
``training/summarize_eval.py``; check a training run's autoencoder with ``training/check_autoencoder.py``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from maa_core.config import add_config_arguments, resolve_path, shorthand_overrides

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("evaluate")
#: config keys that have a flag of their own (--zoo DIR = --set zoo=DIR)
SHORTHANDS = ("generator", "zoo", "out", "num_prompts", "episodes", "episode_steps", "prompt_noise", "guidance_scale")



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap, ROOT / "config" / "metaworld_eval.yaml", help="evaluation protocol YAML")
    ap.add_argument("--generator", help="generator checkpoint directory (omit: baselines only); = --set generator=DIR")
    ap.add_argument("--zoo", help="= --set zoo=DIR")
    ap.add_argument("--out", help="= --set out=DIR")
    ap.add_argument("--num-prompts", type=int, help="= --set num_prompts=N")
    ap.add_argument("--episodes", type=int, help="= --set episodes=N")
    ap.add_argument("--episode-steps", type=int, help="= --set episode_steps=N")
    ap.add_argument("--prompt-noise", type=float, help="= --set prompt_noise=STD")
    ap.add_argument("--baselines", help="comma-separated subset of retrieval,retrieval_noise,bc,random, or "
                                        "'none'; = --set baselines=[...]")
    ap.add_argument("--guidance", type=float, dest="guidance_scale",
                    help="classifier-free guidance weight for the generator (default: the model's own); "
                         "= --set guidance_scale=W")
    ap.add_argument("--skip-source", action="store_true",
                    help="do not evaluate the prompts' own checkpoints (e.g. when another run already did)")
    ap.add_argument("--video", metavar="DIR", help="also write a clip per method for the first --video-prompts "
                    "prompts of each task, side-by-side clips, hand-path plots and DIR/index.md")
    ap.add_argument("--video-prompts", type=int, default=2, help="prompts per task with clips (with --video)")
    moved = {"--summarize": "training/summarize_eval.py EVAL_DIR ...",
             "--ae-check": "training/check_autoencoder.py RUN_DIR"}
    for flag, script in moved.items():
        if flag in (sys.argv[1:] if argv is None else argv):
            ap.error(f"{flag} is its own script now: python {script} (see its --help)")
    args = ap.parse_args(argv)
    if args.video:
        from maa_generator.media import RenderError, configure_gl

        try:  # before the long evaluation, and before anything imports mujoco
            configure_gl()
        except RenderError as exc:
            ap.error(f"--video: {exc}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    import torch

    from maa_generator.data.zoo import Zoo
    from maa_generator.models.retrieval import generator_embed_fn
    from maa_manip.baselines import RetrievalBaseline, pretrain_bc
    from maa_manip.config import ConfigError, load_eval_config, to_dict
    from maa_manip.envs import SEEN_TASKS, UNSEEN_TASKS
    from maa_manip.eval_protocol import (
        TaskCache,
        balanced_rows,
        baseline_policies,
        method_videos,
        prompt_candidates,
        save_task_policies,
        task_prompts,
        task_rngs,
    )
    from maa_manip.evaluation import (
        cosine,
        evaluate_policies,
        markdown_tables,
        nearest_cosine,
        plot_trajectory_difference,
        rollout_in_config,
        task_metrics,
    )

    torch.set_num_threads(1)
    try:
        cfg = load_eval_config(args.config, shorthand_overrides(args, SHORTHANDS, ["baselines"]) + args.overrides)
    except ConfigError as exc:
        ap.error(str(exc))
    out = resolve_path(cfg.out, ROOT)
    out.mkdir(parents=True, exist_ok=True)
    zoo = Zoo.open(resolve_path(cfg.zoo, ROOT))
    seen = cfg.seen_tasks or [t for t in SEEN_TASKS if t in zoo.tasks]
    unseen = cfg.unseen_tasks or [t for t in UNSEEN_TASKS if t in zoo.tasks]
    train_zoo = zoo.filter(tasks=seen) if seen else zoo
    gen = None
    if cfg.generator:
        from maa_generator.models.generator import Generator

        gen = Generator.load(resolve_path(cfg.generator, ROOT))
    bank_h, bank_v = (np.asarray(x) for x in train_zoo.prompts())
    bank_params = train_zoo.params()
    retr = RetrievalBaseline(bank_params, bank_h, bank_v, generator_embed_fn(gen) if gen is not None else None)
    bc_init = None
    if "bc" in cfg.baselines:
        tr = train_zoo.trajectories()
        good = balanced_rows(train_zoo.metadata, seen, 400)
        obs = np.asarray(tr["traj_obs"][good]).reshape(-1, 39)
        act = np.asarray(tr["traj_act"][good]).reshape(-1, 4)
        bc_init = pretrain_bc(obs, act, steps=cfg.bc_steps * 4, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed)  # prompt selection
    noise_rng = np.random.default_rng(cfg.seed + 1)  # prompt noise: same prompts with and without noise
    cache = None  # per-task seeding: finished tasks are kept in out/tasks/ and reused by a rerun (resume)
    if cfg.prompt_seed_per_task:
        cache = TaskCache.for_run(out / "tasks", {**to_dict(cfg), "seen_tasks": seen, "unseen_tasks": unseen},
                                  resolve_path(cfg.generator, ROOT) if cfg.generator else None, args.skip_source)
    results: dict = {"seen": {}, "unseen": {}}
    extra: dict = {}
    prompt_stats: dict = {}  # per task: distinct prompt checkpoints drawn, and how many were eligible
    videos: list[dict] = []
    t0 = time.time()
    for split, tasks in (("seen", seen), ("unseen", unseen)):
        if split not in cfg.splits:
            continue
        for task in tasks:
            done = cache.load(task) if cache is not None else None
            if done is not None:
                log.info("%s %s: reusing the finished task from %s", split, task, cache.dir)
                for name, metrics in done["results"].items():
                    results[split].setdefault(name, {})[task] = metrics
                prompt_stats[task] = done["prompts"]
                if done.get("similarity"):
                    extra[task] = done["similarity"]
                continue
            if cache is not None:
                rng, noise_rng = task_rngs(cfg.seed, task)
            rows, trajs, h, v = task_prompts(zoo, task, cfg, rng, noise_rng)
            prompt_stats[task] = {"distinct_checkpoints": len(set(rows)), "candidates": len(prompt_candidates(
                zoo, task, cfg.prompt_min_success, cfg.prompt_max_iteration, cfg.prompt_needs_success))}
            src = np.asarray(zoo.params(task)[rows])
            task_meta = zoo.filter(tasks=[task]).metadata
            meta = [task_meta[r] for r in rows]
            methods = {} if args.skip_source else {"source": src}
            novelty = None
            if gen is not None:
                policies = gen.generate(trajs, 1, cfg.seed, cfg.guidance_scale)
                methods["maa"] = np.stack([p.flat for p in policies])
                if gen.novelty is not None:
                    novelty = float(np.mean([p.prompt_novelty for p in policies]))
            methods.update(baseline_policies(cfg, task, rows, trajs, h, v, retr, bank_params, bc_init))
            successes = {}
            for name, params in methods.items():
                successes[name] = evaluate_policies(task, params, cfg.episodes, cfg.seed, cfg.episode_steps)
                results[split].setdefault(name, {})[task] = task_metrics(successes[name])
                log.info("%s %s %s: %s", split, task, name, results[split][name][task])
            if cfg.save_policies:
                save_task_policies(out / "policies" / f"{task}.npz", rows, methods, successes)
            if args.video:
                videos += method_videos(task, trajs, methods, [int(m.get("init_seed", 0)) for m in meta],
                                        resolve_path(args.video, ROOT), args.video_prompts, cfg.episode_steps)
            cand = methods.get("maa", methods.get("retrieval"))
            if cand is not None:
                sim_train, _ = nearest_cosine(cand, bank_params)
                extra[task] = {"cos_to_source_mean": float(cosine(cand, src).mean()),
                               "cos_to_nearest_train_mean": float(sim_train.mean()),
                               "method": "maa" if "maa" in methods else "retrieval"}
                if novelty is not None:
                    extra[task]["prompt_novelty_mean"] = novelty
                for i in range(min(cfg.plots, len(trajs))):
                    gt = rollout_in_config(task, cand[i], int(meta[i].get("init_seed", 0)), cfg.episode_steps)
                    plot_trajectory_difference(trajs[i], gt, out / "plots" / f"{task}_{i}.png",
                                               f"{task}: prompt vs {extra[task]['method']} (prompt {i})")
            if cache is not None:
                cache.save(task, {"split": split, "results": {m: results[split][m][task] for m in methods},
                                  "prompts": prompt_stats[task], "similarity": extra.get(task)})
    md = markdown_tables(results)
    (out / "results.md").write_text(f"# MetaWorld evaluation\n\nconfig: `{json.dumps(to_dict(cfg))}`\n\n{md}\n")
    resolved = {**to_dict(cfg), "seen_tasks": seen, "unseen_tasks": unseen}  # the tasks actually evaluated
    summary = {"results": results, "similarity": extra, "prompts": prompt_stats, "config": resolved,
               "seconds": round(time.time() - t0, 1)}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    if args.video:
        from maa_generator.media import write_clip_index

        index_path = resolve_path(args.video, ROOT) / "index.md"
        index = write_clip_index(index_path, "MetaWorld evaluation: one clip per method", videos)
        print(f"clips: {index} ({len(videos)} prompts)")
    print(md)
    print(json.dumps({"out": str(out), "seconds": summary["seconds"], "tasks": seen + unseen,
                      "methods": sorted({m for s in results.values() for m in s})}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
