"""A small SYNTHETIC policy zoo for CI and smoke tests (not real trained policies).

Each task ``k`` is a 2-D-goal reaching problem on a toy linear system ``x' = x + dt * B a`` whose observation is
``[x, goal_k, 0...]``. Checkpoints of task ``k`` are random perturbations of a task-specific parameter vector,
shrinking with the "training step"; their prompts come from actually rolling the policy out (through
:meth:`PolicyLayout.forward_numpy`) and :func:`maa_core.prompt.success_prompt`, so ``h``/``v`` really depend on
the parameters. It exists only so the full training pipeline can run without simulators.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from maa_core.layout import PolicyLayout
from maa_core.prompt import segmented_prompt, success_prompt
from maa_generator.data.zoo import ZooWriter, prompt_spec


def _rollout(layout: PolicyLayout, flat: np.ndarray, goal: np.ndarray, steps: int, rng) -> tuple:
    o = layout.obs_dim
    x = rng.normal(0.0, 0.3, size=2).astype(np.float32)
    obs, act, succ = [], [], []
    for _ in range(steps):
        ob = np.zeros(o, np.float32)
        ob[: min(2, o)] = x[: min(2, o)]
        ob[2: min(4, o)] = goal[: max(0, min(4, o) - 2)]
        a = layout.forward_numpy(flat, ob)
        obs.append(ob)
        act.append(a)
        push = np.zeros(2, np.float32)
        push[: min(2, layout.action_dim)] = a[:2]
        x = x + 0.1 * push + 0.02 * (goal - x)
        succ.append(float(np.linalg.norm(x - goal)) < 0.25)
    return np.stack(obs), np.stack(act), np.asarray(succ)


def make_synthetic_zoo(root: str | Path, layout: PolicyLayout, n: int, m: int, num_tasks: int = 4,
                       per_task: int = 16, segments: int = 0, episode_len: int | None = None,
                       seed: int = 0) -> Path:
    """Write a synthetic zoo (``zoo.json`` has ``synthetic: true``) and return its root.

    Args:
        layout: policy layout of the checkpoints.
        n, m: prompt sizes (must match the embedding config that will train on it).
        num_tasks, per_task: tasks and checkpoints per task (one shard per task).
        segments: 0 for success prompts, ``S`` > 0 for segmented (locomotion-style) prompts.
        episode_len: rollout length (default ``n + m + 10``).
    """
    rng = np.random.default_rng(seed)
    steps = episode_len or (n + m + 10 + max(segments, 1))
    kind = "segmented" if segments else "success"
    spec = prompt_spec(kind, layout.obs_dim, layout.action_dim, n, m, segments)
    config = {"generator": "maa_generator.data.synthetic_zoo", "num_tasks": num_tasks, "per_task": per_task,
              "seed": seed, "episode_len": steps}
    writer = ZooWriter(root, "synthetic", layout, spec, config=config, synthetic=True)
    p = layout.num_params
    for k in range(num_tasks):
        task, run = f"task{k}", "seed0"
        if writer.has_shard(task, run):
            continue
        goal = np.array([np.cos(2 * np.pi * k / num_tasks), np.sin(2 * np.pi * k / num_tasks)], np.float32) * 0.8
        center = rng.normal(0.0, 0.3, size=p).astype(np.float32)
        params, hs, vs, success = [], [], [], []
        for j in range(per_task):
            scale = 0.3 * (1.0 - j / per_task) + 0.05
            flat = center + scale * rng.normal(size=p).astype(np.float32)
            obs, act, succ = _rollout(layout, flat, goal, steps, rng)
            if segments:
                h, v = segmented_prompt(obs, act, n, m, segments)
            else:
                h, v = success_prompt(obs, act, succ, n=n, m=m)
            params.append(flat)
            hs.append(h)
            vs.append(v)
            success.append(float(succ.any()))
        meta = {"seed": 0, "step": [1000 * (j + 1) for j in range(per_task)], "success": success,
                "collector": "synthetic"}
        writer.add_shard(task, run, np.stack(params), np.stack(hs), np.stack(vs), meta)
    return Path(root)
