"""The paper-scale MetaWorld report (issue 16): ``results/metaworld/paper_scale/summary.json``'s headline keys.

:func:`maa_manip.eval_protocol.summarize` merges the evaluation runs (per-method means under ``summary["means"]``);
:func:`headline` adds the keys the issue asks for, one object per method, and the memorization figures of
``training/memorization_metaworld.py``.
"""
from __future__ import annotations

METHODS = ("maa", "retrieval", "retrieval_noise", "random", "bc")
# Make-An-Agent paper (Liang et al. 2024), MetaWorld unseen tasks, top-5 success with 100 prompts: about 0.88 on
# its 8 unseen tasks (the figure the issue quotes; Table 4's per-task cells could not be retrieved here).
PAPER_UNSEEN_TOP5 = 0.88


def method_figures(means: dict, method: str) -> dict | None:
    """``{seen_top5_mean, seen_top10_mean, seen_qualified, seen_mean_success, unseen_...}`` of one method, from
    ``summary["means"][split][method][metric]`` (None where the method was not evaluated)."""
    out = {}
    for split in ("seen", "unseen"):
        m = means.get(split, {}).get(method)
        if m is None:
            continue
        out.update({f"{split}_top5_mean": m["top5"], f"{split}_top10_mean": m["top10"],
                    f"{split}_qualified": m["qualified"], f"{split}_mean_success": m["mean"]})
    return out or None


def headline(summary: dict, memorization: dict | None) -> dict:
    """The issue's keys from a merged ``summary`` and the memorization report (``memorization.json`` or None).

    Returns ``{seen_tasks, unseen_tasks, min_checkpoints_per_seen_task, num_prompts, <method>: {...},
    maa_nn_param_distance_ratio, matched_noise_success, ...}``; methods that were not run are left out.
    """
    out = {"seen_tasks": summary["seen_tasks"], "unseen_tasks": summary["unseen_tasks"],
           "min_checkpoints_per_seen_task": summary["min_checkpoints_per_seen_task"],
           "num_prompts": summary["num_prompts_per_task"], "generator_seeds": summary["generator_runs"],
           "paper_unseen_top5": PAPER_UNSEEN_TOP5}
    for method in METHODS:
        figures = method_figures(summary["means"], method)
        if figures is not None:
            out[method] = figures
    if "maa" in out:
        out["maa"]["seen_top5_per_seed"] = summary["seen_top5_per_generator_run"]
        out["maa"]["unseen_top5_per_seed"] = summary["unseen_top5_per_generator_run"]
    if memorization is not None:
        by_split = memorization["summary"]
        out["maa_nn_param_distance_ratio"] = by_split["all"]["maa_nn_param_distance_ratio"]
        out["memorization"] = {
            split: {"maa_nn_param_distance_ratio": s["maa_nn_param_distance_ratio"],
                    "frac_replica": s["frac_replica"], "frac_interpolation": s["frac_interpolation"],
                    "frac_novel": s["frac_novel"], "frac_nearest_from_prompt_task": s["frac_nearest_from_prompt_task"],
                    "success": s["success"], "num_generated": s["num_generated"]}
            for split, s in by_split.items()}
        out["matched_noise_success"] = {split: s["success"]["noise_matched"] for split, s in by_split.items()}
    return out
