"""Memorization analysis of evaluated MetaWorld policies, with the fair baselines rolled out (issue 16).

:func:`maa_generator.data.memorization.analyze` places each generated policy against the training checkpoints in
parameter space (permutation-aligned) and in open-loop behavior. This module adds what only a simulator can tell:
how well the baselines that sit at the same place *succeed* at the prompt's task:

* ``nearest``: the nearest training checkpoint itself (a replica would score like it);
* ``noise_matched``: that checkpoint plus isotropic noise at exactly the generated policy's aligned distance;
* ``average2``: the aligned average of the two nearest checkpoints;
* ``interpolation``: the closest point on a segment between two of the nearest checkpoints.

Everything here is engine-agnostic except :func:`rollout_success`, which takes the evaluator as an argument.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from maa_core.layout import PolicyLayout
from maa_generator.data import memorization as mem

BASELINES = ("nearest", "noise_matched", "average2", "interpolation")


def baseline_policies(report: mem.MemorizationReport, generated: np.ndarray, bank, layout: PolicyLayout,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """The four baselines of every generated policy, ``{name: [G, P] float32}`` (see the module docstring).

    ``generated`` ``[G, P]`` and ``bank`` ``[K, P]`` are those given to ``analyze``, whose ``report`` says which
    checkpoints are nearest. The noise of policy ``g`` is drawn from ``default_rng([seed, g])``.
    """
    out: dict[str, list[np.ndarray]] = {name: [] for name in BASELINES}
    for g in range(len(generated)):
        c1 = layout.check_flat(np.asarray(bank[int(report.nearest[g, 0])]))
        out["nearest"].append(c1)
        noisy = mem.noise_matched(c1, float(report.param_dist[g]), np.random.default_rng([seed, g]))
        out["noise_matched"].append(noisy.astype(np.float32))
        out["average2"].append(mem.average_of_nearest(bank, report.nearest[g, :2], layout))
        i, j = (int(k) for k in report.interp_pair[g])
        out["interpolation"].append(mem.interpolate(np.asarray(bank[i]), np.asarray(bank[j]),
                                                    float(report.interp_alpha[g]), layout))
    return {name: np.stack(v).astype(np.float32) for name, v in out.items()}


def rollout_success(policies: dict[str, np.ndarray], tasks: Sequence[str],
                    evaluate: Callable[[str, np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
    """Per-policy success ``{name: [G]}`` (mean over episodes) of ``policies[name]`` ``[G, P]`` on ``tasks[g]``.

    ``evaluate(task, params [k, P]) -> success [k, E]`` is called once per (name, task), so policies of one task
    are rolled out together.
    """
    tasks = np.asarray(tasks)
    out = {}
    for name, params in policies.items():
        if len(params) != len(tasks):
            raise ValueError(f"{name}: {len(params)} policies for {len(tasks)} tasks")
        success = np.zeros(len(tasks))
        for task in dict.fromkeys(tasks.tolist()):
            idx = np.flatnonzero(tasks == task)
            success[idx] = np.asarray(evaluate(task, params[idx]), np.float64).mean(1)
        out[name] = success
    return out


def subset_report(report: mem.MemorizationReport, mask: np.ndarray) -> mem.MemorizationReport:
    """The report restricted to the generated policies in boolean ``mask`` ``[G]`` (the bank reference is kept, the
    ratio recomputed on the subset)."""
    mask = np.asarray(mask, bool)
    per_policy = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)
                  if f.name not in ("bank_nn", "ratio", "raw_ratio", "thresholds")}
    picked = {k: (None if v is None else np.asarray(v)[mask]) for k, v in per_policy.items()}
    ratio = mem.nn_param_distance_ratio(picked["param_dist"], report.bank_nn) if mask.any() else float("nan")
    return dataclasses.replace(report, ratio=ratio, **picked)


def split_summary(report: mem.MemorizationReport, success: dict[str, np.ndarray], prompt_tasks: Sequence[str],
                  bank_tasks: Sequence[str]) -> dict:
    """JSON summary of one split: ``report.summary()`` plus mean success of the generated policies and of each
    baseline, and how often the nearest checkpoint comes from the prompt's own task.

    Args:
        report: the split's (sub)report; ``success``: ``{name: [G]}`` for ``"generated"`` and the baselines;
        prompt_tasks: ``[G]`` the task of each policy's prompt; bank_tasks: ``[K]`` the task of each checkpoint.
    """
    near_tasks = [bank_tasks[int(i)] for i in report.nearest[:, 0]]
    out = report.summary()
    out["success"] = {name: float(np.mean(v)) for name, v in success.items()}
    out["frac_nearest_from_prompt_task"] = float(np.mean([a == b for a, b in zip(near_tasks, prompt_tasks)]))
    counts: dict[str, int] = {}
    for t in near_tasks:
        counts[t] = counts.get(t, 0) + 1
    out["nearest_task_counts"] = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    return out


def plot_success(summaries: dict[str, dict], path) -> None:
    """Bar chart: mean success of the generated policies and of each baseline, one group per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["generated", *BASELINES]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        vals = [summaries[s]["success"].get(name, np.nan) for s in summaries]
        ax.bar(np.arange(len(summaries)) + k * width, vals, width, label=name)
    ax.set_xticks(np.arange(len(summaries)) + 0.4 - width / 2, list(summaries))
    ax.set(ylabel="mean success", ylim=(0, 1), title="generated policies vs checkpoints at the same place")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
