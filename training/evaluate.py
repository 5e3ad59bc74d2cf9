#!/usr/bin/env python
"""Evaluate generated MetaWorld policies and baselines (Make-An-Agent protocol, see docs/manipulation.md).

    python training/evaluate.py --config config/metaworld_eval.yaml --generator runs/mw/generator
    python training/evaluate.py --config config/metaworld_eval.yaml --num-prompts 10 --episodes 2   # quick
    python training/evaluate.py --config config/metaworld_eval_full.yaml --generator G --baselines none \
        --skip-source --out results/metaworld/eval_maa          # generator only, same prompts as a baseline run
    python training/evaluate.py --summarize DIR1 DIR2 --out results/metaworld   # merge -> summary.json
    python training/evaluate.py --ae-check runs/metaworld_small  # decoded-policy success of a run's autoencoder

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


def task_prompts(zoo, task: str, cfg, rng: np.random.Generator, noise_rng: np.random.Generator):
    """The evaluation prompts of ``task`` under eval config ``cfg``: ``(rows [K], trajectories, h [K, Dh],
    v [K, Dv])``, with ``cfg.prompt_noise`` on the actions. Selection draws from ``rng``, noise from ``noise_rng``;
    callers that walk the tasks in the same order with the same two generators get the same prompts."""
    from maa_generator.prompt import success_prompt
    from maa_manip.evaluation import noisy_trajectory

    rows = select_prompts(zoo, task, cfg.num_prompts, rng, cfg.prompt_min_success)
    trajs = [noisy_trajectory(t, cfg.prompt_noise, noise_rng) for t in prompt_trajectories(zoo, task, rows)]
    hv = [success_prompt(t.obs, t.act, t.success, zoo.prompt["n"], zoo.prompt["m"]) for t in trajs]
    return rows, trajs, np.stack([x[0] for x in hv]), np.stack([x[1] for x in hv])


def check_autoencoder(run_dir: Path, zoo_path: Path, rows: int, episodes: int, steps: int, seed: int = 0) -> dict:
    """Decoded-policy quality of a run's trained autoencoder on its held-out validation checkpoints.

    For ``rows`` validation checkpoints (the run's own ``data.val_fraction`` split, never trained on): parameter
    MSE of the reconstruction, cosine to the original, and per-task success of original vs decoded policies
    (``episodes`` random configurations each). Returns a JSON-able dict.
    """
    import torch

    from maa_generator.distributed import DistInfo
    from maa_generator.generator import Generator
    from maa_generator.training import _split, load_stage_weights, open_training_zoo
    from maa_manip.evaluation import cosine, evaluate_policies

    cfg = load_run_config_from_run(run_dir)
    zoo = open_training_zoo(cfg, run_dir, DistInfo(), str(zoo_path))
    gen = Generator.build(zoo.layout, cfg.model)
    train_rows, val_rows = _split(zoo.num_checkpoints, cfg.data.val_fraction, cfg.train.seed)
    ae = gen.autoencoder
    params = zoo.params()
    ae.fit_normalizer(torch.from_numpy(np.ascontiguousarray(params[train_rows[: cfg.data.normalizer_rows]])))
    used = load_stage_weights(run_dir, "autoencoder", ae)
    ae.eval()
    val_rows = val_rows[:rows]
    orig = np.ascontiguousarray(params[val_rows]).astype(np.float32)
    with torch.no_grad():
        rec = ae.reconstruct(torch.from_numpy(orig)).numpy()
    tasks = [zoo.metadata[i]["task"] for i in val_rows]
    report: dict = {"checkpoint": str(used), "rows": len(val_rows), "param_mse": float(((rec - orig) ** 2).mean()),
                    "cosine_mean": float(cosine(rec, orig).mean()), "per_task": {}}
    for task in sorted(set(tasks)):
        idx = [i for i, t in enumerate(tasks) if t == task]
        s_o = evaluate_policies(task, orig[idx], episodes, seed, steps).mean(1)
        s_r = evaluate_policies(task, rec[idx], episodes, seed, steps).mean(1)
        report["per_task"][task] = {"n": len(idx), "original_success": float(s_o.mean()),
                                    "decoded_success": float(s_r.mean()),
                                    "original_top5": float(np.sort(s_o)[::-1][:5].mean()),
                                    "decoded_top5": float(np.sort(s_r)[::-1][:5].mean())}
        log.info("AE check %s: %s", task, report["per_task"][task])
    return report


def load_run_config_from_run(run_dir: Path):
    """The preset a run was trained with (``<run>/config.yaml`` minus the ``resolved`` bookkeeping section)."""
    import yaml

    from maa_generator.config import from_dict
    from maa_generator.train_config import RunConfig

    data = yaml.safe_load((run_dir / "config.yaml").read_text())
    data.pop("resolved", None)
    return from_dict(RunConfig, data)


def summarize(run_dirs: list[Path], out: Path, command: str, zoo_path: Path) -> dict:
    """Merge the ``results.json`` of several evaluation runs (same prompts, different methods) into
    ``out/summary.json``, ``out/results.md`` and ``out/top5.png``; returns the summary dict.

    Several runs with a ``maa`` method are generators trained with different seeds: ``maa`` becomes their per-task
    mean (the headline figures), and each run is also listed as ``maa_run<i>``.
    """
    from maa_generator.zoo import Zoo
    from maa_manip.evaluation import SUMMARY_METRICS, average_over_tasks, markdown_tables

    results: dict = {"seen": {}, "unseen": {}}
    generator_runs: dict = {"seen": [], "unseen": []}
    configs, seconds = [], 0.0
    for d in run_dirs:
        r = json.loads((d / "results.json").read_text())
        configs.append(r["config"])
        seconds += r["seconds"]
        for split in ("seen", "unseen"):
            for method, by_task in r["results"].get(split, {}).items():
                if method == "maa":
                    generator_runs[split].append(by_task)
                else:
                    results[split].setdefault(method, {}).update(by_task)
    for split, runs in generator_runs.items():
        if runs:
            results[split]["maa"] = {t: {k: float(np.mean([run[t][k] for run in runs])) for k in runs[0][t]}
                                     for t in runs[0]}
        if len(runs) > 1:
            for i, run in enumerate(runs):
                results[split][f"maa_run{i}"] = run

    def mean(split: str, method: str, key: str = "top5") -> float | None:
        by_task = results[split].get(method)
        return round(average_over_tasks(by_task)[key], 4) if by_task else None

    zoo = Zoo.open(zoo_path)
    seen = configs[0]["seen_tasks"]
    counts = {t: int(zoo.filter(tasks=[t]).num_checkpoints) for t in seen + configs[0]["unseen_tasks"]}
    summary = {
        "seen_top5_mean": mean("seen", "maa"),
        "unseen_top5_mean": mean("unseen", "maa"),
        "seen_nn_retrieval_top5_mean": mean("seen", "retrieval"),
        "seen_noisy_nn_top5_mean": mean("seen", "retrieval_noise"),
        "unseen_nn_retrieval_top5_mean": mean("unseen", "retrieval"),
        "unseen_noisy_nn_top5_mean": mean("unseen", "retrieval_noise"),
        "seen_bc_top5_mean": mean("seen", "bc"),
        "unseen_bc_top5_mean": mean("unseen", "bc"),
        "seen_random_top5_mean": mean("seen", "random"),
        "unseen_random_top5_mean": mean("unseen", "random"),
        "generator_runs": len(generator_runs["unseen"] or generator_runs["seen"]),
        "seen_top5_per_generator_run": [round(average_over_tasks(r)["top5"], 4) for r in generator_runs["seen"]],
        "unseen_top5_per_generator_run": [round(average_over_tasks(r)["top5"], 4) for r in generator_runs["unseen"]],
        "num_seen_tasks": len(seen),
        "num_unseen_tasks": len(configs[0]["unseen_tasks"]),
        "min_checkpoints_per_seen_task": min(counts[t] for t in seen),
        "checkpoints_per_task": counts,
        "num_prompts_per_task": configs[0]["num_prompts"],
        "episodes_per_policy": configs[0]["episodes"],
        "prompt_action_noise_std": configs[0]["prompt_noise"],
        "means": {split: {m: {k: mean(split, m, k) for k in SUMMARY_METRICS}
                          for m in results[split]} for split in results},
        "eval_seconds": round(seconds, 1),
        "command": command,
        "runs": [str(d.relative_to(ROOT)) if d.is_relative_to(ROOT) else str(d) for d in run_dirs],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text("# MetaWorld results (merged)\n\n" + markdown_tables(results) + "\n")
    _plot_top5(results, out / "top5.png")
    return summary


def _plot_top5(results: dict, path: Path) -> None:
    """Grouped bar chart: top-5 success per task and method (seen | unseen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), sharey=True)
    for ax, split in zip(axes, ("seen", "unseen")):
        methods = list(results[split])
        tasks = list(next(iter(results[split].values()), {}))
        w = 0.8 / max(1, len(methods))
        for j, m in enumerate(methods):
            ax.bar(np.arange(len(tasks)) + j * w, [results[split][m].get(t, {}).get("top5", 0) for t in tasks], w,
                   label=m)
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - w / 2, tasks, rotation=20)
        ax.set_title(f"{split} tasks: top-5 success")
    axes[0].set_ylabel("success rate")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


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
    ap.add_argument("--baselines", help="comma-separated subset of retrieval,retrieval_noise,bc,random, or "
                                        "'none' (overrides the config)")
    ap.add_argument("--guidance", type=float, dest="guidance_scale",
                    help="classifier-free guidance weight for the generator (default: the model's own)")
    ap.add_argument("--skip-source", action="store_true",
                    help="do not evaluate the prompts' own checkpoints (e.g. when another run already did)")
    ap.add_argument("--ae-check", metavar="RUN_DIR",
                    help="only check a training run's autoencoder on its held-out checkpoints (decoded-policy "
                         "success vs original); writes RUN_DIR/ae_check.json and exits")
    ap.add_argument("--ae-rows", type=int, default=40, help="held-out checkpoints for --ae-check")
    ap.add_argument("--summarize", nargs="+", metavar="EVAL_DIR",
                    help="merge these evaluation runs into --out/summary.json (+ results.md, top5.png) and exit")
    ap.add_argument("--command", default="", help="with --summarize: the command recorded in summary.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.summarize:
        summary = summarize([_abs(d) for d in args.summarize], _abs(args.out or "results/metaworld"), args.command,
                            _abs(args.zoo or "data/metaworld_zoo"))
        print(json.dumps(summary))
        return 0
    if args.ae_check:
        import torch

        torch.set_num_threads(1)
        run = _abs(args.ae_check)
        rep = check_autoencoder(run, _abs(args.zoo or "data/metaworld_zoo"), args.ae_rows, args.episodes or 3,
                                args.episode_steps or 500)
        (run / "ae_check.json").write_text(json.dumps(rep, indent=1))
        print(json.dumps(rep))
        return 0

    import torch

    from maa_generator.zoo import Zoo
    from maa_manip.baselines import RetrievalBaseline, finetune_bc, generator_embed_fn, pretrain_bc
    from maa_manip.config import load_eval_config, to_dict
    from maa_manip.envs import SEEN_TASKS, UNSEEN_TASKS
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
    over = {k: v for k, v in (("generator", args.generator), ("zoo", args.zoo), ("out", args.out),
                              ("num_prompts", args.num_prompts), ("episodes", args.episodes),
                              ("episode_steps", args.episode_steps), ("prompt_noise", args.prompt_noise),
                              ("guidance_scale", args.guidance_scale))
            if v is not None}
    if args.baselines is not None:
        over["baselines"] = [] if args.baselines.strip() == "none" else [b.strip() for b in args.baselines.split(",")]
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
        if split not in cfg.splits:
            continue
        for task in tasks:
            rows, trajs, h, v = task_prompts(zoo, task, cfg, rng, noise_rng)
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
            if "retrieval" in cfg.baselines:
                methods["retrieval"] = retr.retrieve(h, v)
            if "retrieval_noise" in cfg.baselines:
                methods["retrieval_noise"] = retr.retrieve(h, v, cfg.retrieval_noise_std, cfg.seed)
            if "random" in cfg.baselines:  # prompt-blind: what diversity alone scores under top-k
                pick = np.random.default_rng([cfg.seed, len(rows), sum(map(ord, task))]).choice(
                    len(bank_params), size=len(rows), replace=len(bank_params) < len(rows))
                methods["random"] = np.stack([np.asarray(bank_params[int(i)], np.float32) for i in pick])
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
                if novelty is not None:
                    extra[task]["prompt_novelty_mean"] = novelty
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
