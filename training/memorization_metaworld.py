#!/usr/bin/env python
"""Memorization analysis of a MetaWorld evaluation's generated policies, seen and unseen tasks (issue 16).

    python training/memorization_metaworld.py --eval results/metaworld/paper_scale/eval_maa_s0 \\
        --out results/metaworld/paper_scale/memorization --per-task 10

Reads the policies that ``training/evaluate.py`` saved (``save_policies: true``: ``EVAL/policies/<task>.npz``) and
the evaluation's config (``EVAL/results.json``: zoo, seen and unseen tasks, episodes, seed). For ``--per-task``
policies of every task (evenly spaced over its prompts) it measures the permutation-aligned distance to the nearest
*training* checkpoint (seen tasks only: the generator's data), against the distances between training checkpoints,
the open-loop behavior distance, and the interpolation test (``maa_generator.data.memorization``), and rolls out
four baselines at the same place on the prompt's task: the nearest checkpoint, a noise-matched copy of it, the
average of the two nearest, the closest interpolation (``maa_manip.memorization_eval``).

Writes ``OUT/memorization.json`` (``summary`` with ``seen`` / ``unseen`` / ``all``, one row per policy),
``OUT/memorization_<split>.png`` (three panels, docs/memorization.md) and ``OUT/success.png``; prints the summary.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # many small alignments
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from maa_core.config import resolve_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("memorization")



def _args(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", required=True, help="evaluation directory with results.json and policies/")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--method", default="maa", help="which saved method to analyze (default: maa)")
    ap.add_argument("--per-task", type=int, default=10, help="policies per task (evenly spaced over the prompts)")
    ap.add_argument("--zoo", help="zoo directory (default: the evaluation's)")
    ap.add_argument("--sample", type=int, default=256, help="bank checkpoints for the bank NN distribution")
    ap.add_argument("--prefilter", type=int, default=64,
                    help="bank checkpoints aligned per generated policy (nearest by raw distance or by the "
                         "permutation-invariant bound; 0: the whole bank, exact but G x K alignments)")
    ap.add_argument("--interp-candidates", type=int, default=16)
    ap.add_argument("--max-states", type=int, default=200, help="recorded states per behavior comparison")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def gather(eval_dir: Path, tasks: list[str], method: str, per_task: int):
    """``(params [G, P], success [G], tasks [G], prompt_rows [G])`` of ``per_task`` saved policies per task."""
    from maa_manip.eval_protocol import load_task_policies

    params, success, names, prompt_rows = [], [], [], []
    for task in tasks:
        rows, methods = load_task_policies(eval_dir / "policies" / f"{task}.npz")
        if method not in methods:
            raise SystemExit(f"{eval_dir}/policies/{task}.npz has no method {method!r} (has {sorted(methods)})")
        p, s = methods[method]
        pick = np.unique(np.linspace(0, len(p) - 1, min(per_task, len(p))).round().astype(int))
        params.append(p[pick])
        success.append(s[pick].mean(1))
        names += [task] * len(pick)
        prompt_rows.append(rows[pick])
    return np.concatenate(params), np.concatenate(success), names, np.concatenate(prompt_rows)


def main(argv=None) -> int:
    args = _args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    import torch
    from memorization import states_of  # training/ is on sys.path when this file runs

    from maa_generator.data import memorization as mem
    from maa_generator.data.zoo import Zoo
    from maa_manip import memorization_eval as me
    from maa_manip.evaluation import evaluate_policies

    torch.set_num_threads(1)
    eval_dir = resolve_path(args.eval, ROOT)
    results = eval_dir / "results.json"
    if not results.is_file():
        raise SystemExit(f"{results}: not found (run training/evaluate.py with save_policies: true first)")
    cfg = json.loads(results.read_text())["config"]
    seen, unseen = list(cfg["seen_tasks"]), list(cfg["unseen_tasks"])
    if not seen:
        raise SystemExit(f"{results}: the evaluation config names no seen tasks; the training bank is undefined")
    zoo = Zoo.open(resolve_path(args.zoo or cfg["zoo"], ROOT))
    bank_zoo = zoo.filter(tasks=seen)
    t0 = time.time()
    bank = np.asarray(bank_zoo.params()[np.arange(len(bank_zoo))], np.float32)
    bank_tasks = [m.get("task") for m in bank_zoo.metadata]
    generated, gen_success, prompt_tasks, prompt_rows = gather(eval_dir, seen + unseen, args.method, args.per_task)
    log.info("%d generated policies against %d training checkpoints (%.0f s loading)", len(generated), len(bank),
             time.time() - t0)
    report = mem.analyze(generated, bank, zoo.layout, obs=states_of(bank_zoo, args.max_states), sample=args.sample,
                         prefilter=32,
                         generated_prefilter=args.prefilter or None, interp_candidates=args.interp_candidates,
                         seed=args.seed)
    log.info("analysis done (%.0f s); rolling out the baselines", time.time() - t0)
    baselines = me.baseline_policies(report, generated, bank, zoo.layout, args.seed)
    success = {"generated": gen_success, **me.rollout_success(
        baselines, prompt_tasks,
        lambda task, p: evaluate_policies(task, p, cfg["episodes"], cfg["seed"], cfg["episode_steps"]))}
    out = resolve_path(args.out, ROOT)
    out.mkdir(parents=True, exist_ok=True)
    split_of = np.array(["seen" if t in seen else "unseen" for t in prompt_tasks])
    summaries = {}
    for split in ("seen", "unseen", "all"):
        mask = np.ones(len(split_of), bool) if split == "all" else split_of == split
        if not mask.any():
            continue
        sub = me.subset_report(report, mask)
        summaries[split] = me.split_summary(sub, {k: v[mask] for k, v in success.items()},
                                            [t for t, m in zip(prompt_tasks, mask) if m], bank_tasks)
        if split != "all":
            mem.plot_memorization(sub, out / f"memorization_{split}.png")
    me.plot_success({s: summaries[s] for s in summaries if s != "all"}, out / "success.png")
    rows = [{"task": prompt_tasks[g], "split": str(split_of[g]), "prompt_row": int(prompt_rows[g]),
             "label": str(report.labels[g]), "param_dist": float(report.param_dist[g]),
             "interp_dist": float(report.interp_dist[g]), "behavior": float(report.behavior[g]),
             "nearest_task": bank_tasks[int(report.nearest[g, 0])],
             "nearest_run": bank_zoo.metadata[int(report.nearest[g, 0])].get("run"),
             "nearest_iteration": bank_zoo.metadata[int(report.nearest[g, 0])].get("iteration"),
             **{f"success_{k}": float(v[g]) for k, v in success.items()}} for g in range(len(generated))]
    meta = {"eval": str(args.eval), "method": args.method, "per_task": args.per_task, "bank": len(bank),
            "prefilter": args.prefilter, "seconds": round(time.time() - t0, 1)}
    (out / "memorization.json").write_text(json.dumps({"meta": meta, "summary": summaries, "policies": rows},
                                                      indent=1))
    print(json.dumps({"meta": meta, **{s: {k: v for k, v in d.items() if k != "thresholds"}
                                       for s, d in summaries.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
