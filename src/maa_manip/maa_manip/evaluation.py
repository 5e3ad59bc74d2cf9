"""Evaluation protocol of generated (or baseline) MetaWorld policies.

Per task: one policy per prompt, each evaluated in ``episodes`` random initial configurations (the same
configurations for every policy) with the deterministic action ``tanh(mean)``; success = ``info["success"]`` at
any step. Per task we report, over the policies' own success rates ``s_k``:

* ``top5`` / ``top10``: mean of the ``k`` best *single policies* (sort ``s_k``, average the first ``k``),
* ``qualified``: fraction of policies with ``s_k == 1`` (successful in every configuration),
* ``mean``: mean of ``s_k``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_core.prompt import Trajectory
from maa_manip.actor import act_batched
from maa_manip.envs import ACT_DIM, OBS_DIM, VecMetaWorld, task_short


def topk_single(success: np.ndarray, k: int) -> float:
    """Mean success of the ``k`` best single policies. ``success``: ``[K]`` per-policy rates (or ``[K, E]``
    per-episode flags, averaged over ``E`` first). Uses all policies if ``K < k``."""
    s = np.asarray(success, dtype=np.float64)
    if s.ndim == 2:
        s = s.mean(1)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"expected per-policy success [K] or [K, E] with K >= 1, got shape {list(s.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return float(np.sort(s)[::-1][:k].mean())


def task_metrics(success: np.ndarray) -> dict[str, float]:
    """``success [K, E]`` (per policy, per episode) -> ``{top5, top10, qualified, mean, num_policies}``."""
    s = np.asarray(success, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] == 0:
        raise ValueError(f"expected success of shape [K, E], got {list(s.shape)}")
    per = s.mean(1)
    return {"top5": topk_single(per, 5), "top10": topk_single(per, 10), "qualified": float((per >= 1.0).mean()),
            "mean": float(per.mean()), "num_policies": int(s.shape[0])}


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of ``a [K, P]`` and ``b [K, P]`` -> ``[K]``."""
    a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cosine needs equal shapes, got {list(a.shape)} and {list(b.shape)}")
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(den, 1e-12)


def nearest_cosine(query: np.ndarray, bank, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Highest cosine similarity of each ``query [K, P]`` row to any ``bank [N, P]`` row -> ``(sim [K], idx [K])``."""
    q = np.atleast_2d(query).astype(np.float32)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    best = np.full(q.shape[0], -np.inf)
    idx = np.zeros(q.shape[0], dtype=np.int64)
    for start in range(0, len(bank), chunk):
        b = np.asarray(bank[start:start + chunk], dtype=np.float32)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        sim = q @ b.T
        j = sim.argmax(1)
        better = sim[np.arange(len(q)), j] > best
        best[better] = sim[np.arange(len(q)), j][better]
        idx[better] = start + j[better]
    return best, idx


def evaluate_policies(task: str, params: np.ndarray, episodes: int = 5, seed: int = 0, steps: int = 500,
                      layout: PolicyLayout | None = None, stop_on_success: bool = True, chunk: int = 20) -> np.ndarray:
    """Evaluate ``K`` policies, ``chunk`` at a time (batched_forward over ``chunk * episodes`` envs).

    Args:
        params: ``[K, P]`` flat parameters.
        episodes: random initial configurations per policy (config ``e`` is drawn from seed
            ``seed * 10007 + e`` and shared by all policies).
        stop_on_success: stop stepping an env once it succeeded (the result is the same).
    Returns:
        ``success [K, episodes]`` bool.
    """
    layout = layout or metaworld_sac_layout()
    flat_all = torch.from_numpy(layout.check_flat(params, batched=True))
    K = flat_all.shape[0]
    C = max(1, min(chunk, K))
    init_seeds = [seed * 10007 + e for _ in range(C) for e in range(episodes)]
    vec = VecMetaWorld(task, init_seeds, "random", steps)
    success = np.zeros((K, episodes), dtype=bool)
    for start in range(0, K, C):
        flat = flat_all[start:start + C]
        k = flat.shape[0]
        envs = vec.envs[:k * episodes]
        if start:
            for env, s in zip(envs, init_seeds):
                env.seed(s)
        succ = success[start:start + k].reshape(-1)
        obs = np.stack([e.reset() for e in envs])
        for _ in range(steps):
            active = ~succ if stop_on_success else np.ones(k * episodes, bool)
            if not active.any():
                break
            act = act_batched(layout, flat, obs.reshape(k, episodes, OBS_DIM)).reshape(k * episodes, ACT_DIM)
            for i in np.flatnonzero(active):
                obs[i], _, _, s = envs[i].step(act[i])
                succ[i] |= s
    return success


def rollout_in_config(task: str, flat: np.ndarray, init_seed: int, steps: int = 500,
                      layout: PolicyLayout | None = None) -> Trajectory:
    """One deterministic episode of one policy in the fixed configuration of ``init_seed``."""
    from maa_manip.envs import MetaWorldEnv

    layout = layout or metaworld_sac_layout()
    env = MetaWorldEnv(task, init_seed, "fixed", steps)
    obs = env.reset()
    o_l, a_l, s_l = [], [], []
    for _ in range(steps):
        a = layout.forward_numpy(flat, obs)
        o_l.append(obs)
        a_l.append(a)
        obs, _, _, s = env.step(a)
        s_l.append(s)
    return Trajectory(np.stack(o_l), np.stack(a_l), np.asarray(s_l), dt=env.dt, domain="metaworld",
                      task=task_short(task))


def noisy_trajectory(traj: Trajectory, sigma: float, rng: np.random.Generator) -> Trajectory:
    """Copy of ``traj`` with Gaussian noise of std ``sigma`` added to its actions (clipped to [-1, 1])."""
    act = traj.act + rng.normal(0.0, sigma, traj.act.shape).astype(np.float32) if sigma > 0 else traj.act
    return Trajectory(traj.obs, np.clip(act, -1, 1), traj.success, traj.dt, traj.domain, traj.task)


def plot_trajectory_difference(prompt: Trajectory, generated: Trajectory, path: str | Path, title: str = "") -> Path:
    """PNG: end-effector xyz of the prompt vs the generated policy's rollout, and their distance over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = min(prompt.length, generated.length)
    t = np.arange(T) * prompt.dt
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    for d, name in enumerate("xyz"):
        axes[d].plot(t, prompt.obs[:T, d], label="prompt")
        axes[d].plot(t, generated.obs[:T, d], "--", label="generated")
        axes[d].set_title(f"hand {name}")
        axes[d].set_xlabel("time [s]")
    axes[0].set_ylabel("position [m]")
    axes[0].legend()
    dist = np.linalg.norm(prompt.obs[:T, :3] - generated.obs[:T, :3], axis=1)
    axes[3].plot(t, dist, color="k")
    axes[3].set_title("|hand_prompt - hand_generated| [m]")
    axes[3].set_xlabel("time [s]")
    for traj, style in ((prompt, "C0"), (generated, "C1")):
        if traj.success is not None and traj.success[:T].any():
            axes[3].axvline(t[int(np.argmax(traj.success[:T]))], color=style, ls=":")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


SUMMARY_METRICS = ("top5", "top10", "qualified", "mean")


def average_over_tasks(by_task: dict[str, dict]) -> dict[str, float]:
    """``{task: task_metrics(...)}`` -> the mean over tasks of each of :data:`SUMMARY_METRICS`."""
    return {k: float(np.mean([m[k] for m in by_task.values()])) for k in SUMMARY_METRICS}


def markdown_tables(results: dict) -> str:
    """``results[split][method][task] = metrics`` -> markdown (one table per split, average row last)."""
    lines = []
    for split, by_method in results.items():
        if not by_method:
            continue
        lines += [f"### {split} tasks", "", "| method | task | top-5 | top-10 | qualified | mean |",
                  "|---|---|---|---|---|---|"]
        for method, by_task in by_method.items():
            rows = list(by_task.items())
            for task, m in rows:
                lines.append(f"| {method} | {task} | {m['top5']:.3f} | {m['top10']:.3f} | {m['qualified']:.3f} | "
                             f"{m['mean']:.3f} |")
            if len(rows) > 1:
                avg = average_over_tasks(by_task)
                lines.append(f"| {method} | **average** | {avg['top5']:.3f} | {avg['top10']:.3f} | "
                             f"{avg['qualified']:.3f} | {avg['mean']:.3f} |")
        lines.append("")
    return "\n".join(lines)
