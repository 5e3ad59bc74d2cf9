#!/usr/bin/env python
"""Evaluate generated robosuite policies and baselines: trained on Panda, evaluated on Sawyer (paper protocol).

    python training/evaluate_robosuite.py --config config/robosuite_eval.yaml --generator runs/rs/generator
    python training/evaluate_robosuite.py --config config/robosuite_eval.yaml --num-prompts 5 --episodes 2  # quick
    python training/evaluate_robosuite.py --config config/robosuite_eval.yaml --set prompt_zoo=data/robosuite_sawyer
    python training/evaluate_robosuite.py --config config/robosuite_eval_tiny.yaml --generator G   # CI scale

For each task: ``num_prompts`` prompt trajectories (episode 0 of random checkpoints of the prompt zoo, optional
Gaussian action noise), one policy per prompt and method, all evaluated on ``eval_robot`` in the same ``episodes``
fixed configurations (:func:`maa_manip.robosuite_eval.evaluate_policies_robosuite`). Methods: ``maa`` (the
generator, if given), ``source`` (the prompts' own checkpoints) and the configured baselines, whose bank is the
training zoo (``zoo``). Writes ``results.json`` (split ``seen``, the layout of ``training/evaluate.py``'s, so
``training/summarize_eval.py --zoo ZOO`` merges runs), ``results.md`` and, with ``save_policies``,
``policies/<task>.npz``; the last printed line is a JSON summary.
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
log = logging.getLogger("evaluate_robosuite")
#: config keys that have a flag of their own (--zoo DIR = --set zoo=DIR)
SHORTHANDS = ("generator", "zoo", "prompt_zoo", "out", "eval_robot", "num_prompts", "episodes", "episode_steps",
              "prompt_noise", "guidance_scale")


def _task_cache(cfg, tasks: list[str], out: Path, skip_source: bool):
    """With ``prompt_seed_per_task``: the finished tasks of this exact run (config, generator weights), kept in
    ``out/tasks/`` so that a rerun of the same command resumes after the last finished task; else None."""
    if not cfg.prompt_seed_per_task:
        return None
    from maa_manip.config import to_dict
    from maa_manip.eval_protocol import TaskCache

    return TaskCache.for_run(out / "tasks", {**to_dict(cfg), "seen_tasks": tasks, "unseen_tasks": []},
                             resolve_path(cfg.generator, ROOT) if cfg.generator else None, skip_source)


def _num_methods(cfg, gen, skip_source: bool, bc_init) -> int:
    """Methods evaluated per task (for the progress bar)."""
    baselines = [b for b in cfg.baselines if b != "bc" or bc_init is not None]
    return int(not skip_source) + int(gen is not None) + len(baselines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap, ROOT / "config" / "robosuite_eval.yaml", help="evaluation protocol YAML")
    ap.add_argument("--generator", help="generator checkpoint directory (omit: baselines only); = --set generator=DIR")
    ap.add_argument("--zoo", help="training (Panda) zoo: generator data and baseline bank; = --set zoo=DIR")
    ap.add_argument("--prompt-zoo", dest="prompt_zoo", help="zoo of prompt-source runs; = --set prompt_zoo=DIR")
    ap.add_argument("--out", help="= --set out=DIR")
    ap.add_argument("--tasks", help="comma-separated, e.g. Lift,Door; = --set tasks=[...]")
    ap.add_argument("--eval-robot", dest="eval_robot", help="Panda or Sawyer; = --set eval_robot=NAME")
    ap.add_argument("--num-prompts", type=int, help="= --set num_prompts=N")
    ap.add_argument("--episodes", type=int, help="= --set episodes=N")
    ap.add_argument("--episode-steps", type=int, help="= --set episode_steps=N")
    ap.add_argument("--prompt-noise", type=float, help="= --set prompt_noise=STD")
    ap.add_argument("--baselines", help="comma-separated subset of retrieval,retrieval_noise,random,bc, or 'none'")
    ap.add_argument("--guidance", type=float, dest="guidance_scale",
                    help="classifier-free guidance weight (default: the model's own); = --set guidance_scale=W")
    ap.add_argument("--skip-source", action="store_true", help="do not evaluate the prompts' own checkpoints")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    import torch
    from tqdm import tqdm

    from maa_generator.models.retrieval import generator_embed_fn
    from maa_manip.baselines import RetrievalBaseline, pretrain_bc
    from maa_manip.config import ConfigError, to_dict
    from maa_manip.eval_protocol import baseline_policies, prompt_candidates, save_task_policies, task_rngs
    from maa_manip.evaluation import markdown_tables, task_metrics
    from maa_manip.robosuite_eval import (
        RobosuiteEvalError,
        bc_pretrain_rows,
        evaluate_policies_robosuite,
        load_robosuite_eval_config,
        open_robosuite_zoo,
        robosuite_task_prompts,
    )

    torch.set_num_threads(1)
    try:
        flags = shorthand_overrides(args, SHORTHANDS, ["tasks", "baselines"])
        cfg = load_robosuite_eval_config(args.config, flags + args.overrides)
        tasks = list(cfg.tasks)
        zoo = open_robosuite_zoo(resolve_path(cfg.zoo, ROOT), tasks, "zoo")
        pzoo = open_robosuite_zoo(resolve_path(cfg.prompt_zoo, ROOT), tasks, "prompt_zoo") if cfg.prompt_zoo else zoo
    except (ConfigError, RobosuiteEvalError) as exc:
        ap.error(str(exc))
    layout = zoo.layout
    train_zoo = zoo.filter(tasks=tasks)
    bank_h, bank_v = (np.asarray(x) for x in train_zoo.prompts())
    gen = None
    if cfg.generator:
        from maa_generator.models.generator import Generator

        try:
            gen = Generator.load(resolve_path(cfg.generator, ROOT))
        except (OSError, ValueError) as exc:
            ap.error(f"generator: cannot load {resolve_path(cfg.generator, ROOT)}: {exc}")
        if gen.layout != layout:
            ap.error(f"generator: {cfg.generator} generates layout {gen.layout.name} ({gen.layout.num_params} "
                     f"params), the zoo holds {layout.name} ({layout.num_params} params)")
        if (gen.embedding.h_dim, gen.embedding.v_dim) != (bank_h.shape[1], bank_v.shape[1]):
            ap.error(f"generator: its embedding takes prompts h/v of {gen.embedding.h_dim}/{gen.embedding.v_dim} "
                     f"values, the zoo stores {bank_h.shape[1]}/{bank_v.shape[1]} (prompt n/m differ)")
    out = resolve_path(cfg.out, ROOT)
    out.mkdir(parents=True, exist_ok=True)
    bank_params = train_zoo.params()
    retr = RetrievalBaseline(bank_params, bank_h, bank_v, generator_embed_fn(gen) if gen is not None else None)
    bc_init, bc_info = None, {}
    if "bc" in cfg.baselines:
        rows_bc, min_succ = bc_pretrain_rows(train_zoo.metadata, tasks, 400)
        if min_succ < 0.5:
            log.warning("bc: no training checkpoint with success >= 0.5; pretraining on all %d", len(rows_bc))
        tr = train_zoo.trajectories()
        obs = np.asarray(tr["traj_obs"][rows_bc]).reshape(-1, layout.obs_dim)
        act = np.asarray(tr["traj_act"][rows_bc]).reshape(-1, layout.action_dim)
        bc_init = pretrain_bc(obs, act, steps=cfg.bc_steps * 4, seed=cfg.seed, layout=layout)
        bc_info = {"pretrain_checkpoints": len(rows_bc), "pretrain_min_success": min_succ}
    rng = np.random.default_rng(cfg.seed)  # prompt selection
    noise_rng = np.random.default_rng(cfg.seed + 1)  # prompt noise: same prompts with and without noise
    cache = _task_cache(cfg, tasks, out, args.skip_source)
    results: dict = {"seen": {}, "unseen": {}}
    prompt_stats: dict = {}
    t0 = time.time()
    bar = tqdm(total=len(tasks) * cfg.num_prompts * _num_methods(cfg, gen, args.skip_source, bc_init),
               desc="policies", unit="policy", mininterval=10.0)
    for task in tasks:
        done = cache.load(task) if cache is not None else None
        if done is not None:
            log.info("%s: reusing the finished task from %s", task, cache.dir)
            for name, metrics in done["results"].items():
                results["seen"].setdefault(name, {})[task] = metrics
            prompt_stats[task] = done["prompts"]
            bar.update(cfg.num_prompts * len(done["results"]))
            continue
        if cache is not None:
            rng, noise_rng = task_rngs(cfg.seed, task)
        rows, trajs, h, v = robosuite_task_prompts(pzoo, task, cfg, rng, noise_rng, zoo.prompt["n"], zoo.prompt["m"])
        prompt_stats[task] = {"distinct_checkpoints": len(set(rows)), "candidates": len(prompt_candidates(
            pzoo, task, cfg.prompt_min_success, cfg.prompt_max_iteration, cfg.prompt_needs_success))}
        methods = {} if args.skip_source else {"source": np.asarray(pzoo.params(task)[rows], np.float32)}
        if gen is not None:
            methods["maa"] = np.stack([p.flat for p in gen.generate(trajs, 1, cfg.seed, cfg.guidance_scale)])
        methods.update(baseline_policies(cfg, task, rows, trajs, h, v, retr, bank_params, bc_init, layout))
        if not methods:
            ap.error("nothing to evaluate: no generator, no baselines and --skip-source")
        # every method in one call: the eval robot's envs are built once per task
        names = list(methods)
        flags = evaluate_policies_robosuite(task, cfg.eval_robot, np.concatenate([methods[n] for n in names]),
                                            cfg.episodes, cfg.seed, cfg.episode_steps, layout, progress=bar)
        successes = dict(zip(names, np.split(flags, np.cumsum([len(methods[n]) for n in names])[:-1])))
        for name in names:
            results["seen"].setdefault(name, {})[task] = task_metrics(successes[name])
            log.info("%s on %s, %s: %s", task, cfg.eval_robot, name, results["seen"][name][task])
        if cfg.save_policies:
            save_task_policies(out / "policies" / f"{task}.npz", rows, methods, successes)
        if cache is not None:
            cache.save(task, {"results": {m: results["seen"][m][task] for m in names}, "prompts": prompt_stats[task]})
    bar.close()
    md = markdown_tables(results)
    (out / "results.md").write_text(f"# Robosuite evaluation (on {cfg.eval_robot})\n\n"
                                    f"config: `{json.dumps(to_dict(cfg))}`\n\n{md}\n")
    robots = {"zoo": zoo.config.get("robot"), "prompt_zoo": pzoo.config.get("robot"), "eval": cfg.eval_robot}
    summary = {"results": results, "prompts": prompt_stats, "bc": bc_info, "robots": robots,
               "config": {**to_dict(cfg), "seen_tasks": tasks, "unseen_tasks": []},
               "seconds": round(time.time() - t0, 1)}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    print(md)
    print(json.dumps({"out": str(out), "seconds": summary["seconds"], "tasks": tasks, "eval_robot": cfg.eval_robot,
                      "methods": sorted(results["seen"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
