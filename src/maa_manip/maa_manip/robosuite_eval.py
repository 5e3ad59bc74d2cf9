"""The robosuite evaluation protocol (``training/evaluate_robosuite.py``): train on Panda, evaluate on Sawyer.

The MetaWorld protocol (:mod:`maa_manip.eval_protocol`, :mod:`maa_manip.evaluation`) with robosuite's pieces: prompts
are episode 0 of zoo checkpoints of the task (optionally from a separate prompt zoo, e.g. Sawyer runs), each
method's policy per prompt runs ``episodes`` fixed initial configurations on ``eval_robot`` (configuration ``e`` is
robosuite placement seed ``seed * 10007 + e``, the same for every policy and method), deterministic action
``tanh(mean)``, success = ``env._check_success()`` at any step. Metrics: :func:`maa_manip.evaluation.task_metrics`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from maa_core.config import load_config, require
from maa_core.layout import PolicyLayout
from maa_core.prompt import Trajectory, success_prompt
from maa_manip.actor import act_batched
from maa_manip.config import BASELINES, PromptProtocolConfig
from maa_manip.envs import EnvError
from maa_manip.eval_protocol import select_prompts
from maa_manip.evaluation import noisy_trajectory
from maa_manip.robosuite_env import ROBOTS, TASKS, VecRobosuite, control_of_layout, robosuite_sac_layout

CONTROL_DT = 1.0 / 20  # RobosuiteEnv's control period (20 Hz)


class RobosuiteEvalError(ValueError):
    """A zoo or generator that does not fit the robosuite evaluation (missing, wrong layout, missing task)."""


@dataclass
class RobosuiteEvalConfig(PromptProtocolConfig):
    """Robosuite evaluation protocol (``config/robosuite_eval.yaml``): the shared prompt protocol with prompts from
    ``prompt_zoo`` (default: the training zoo) and rollouts on ``eval_robot``."""

    zoo: str = "data/robosuite_zoo"
    prompt_zoo: str = ""
    out: str = "results/robosuite/eval"
    tasks: list[str] = field(default_factory=lambda: ["Lift", "Door"])
    eval_robot: str = "Sawyer"
    num_prompts: int = 50
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))

    def __post_init__(self) -> None:
        super().__post_init__()
        require(bool(self.tasks), "tasks must be a non-empty list, e.g. [Lift, Door]")
        require(set(self.tasks) <= set(TASKS), f"unknown robosuite task(s) {sorted(set(self.tasks) - set(TASKS))}; "
                                               f"expected a subset of {list(TASKS)}")
        require(len(set(self.tasks)) == len(self.tasks), f"tasks lists a task twice: {self.tasks}")
        require(self.eval_robot in ROBOTS, f"eval_robot must be one of {list(ROBOTS)}, got {self.eval_robot!r}")


def load_robosuite_eval_config(path: str | Path, overrides: Iterable[str] = ()) -> RobosuiteEvalConfig:
    """The robosuite evaluation config (YAML composed on its ``base:`` files) with ``key=value`` overrides."""
    return load_config(RobosuiteEvalConfig, path, overrides)


def open_robosuite_zoo(path: str | Path, tasks: list[str], what: str = "zoo"):
    """Open the zoo at ``path`` and check that it holds robosuite-layout policies of every task in ``tasks``.

    Raises :class:`RobosuiteEvalError` naming ``what`` (the config key) for a missing zoo, another layout or domain,
    or a missing task."""
    from maa_generator.data.zoo import Zoo, ZooError

    path = Path(path)
    if not (path / "zoo.json").is_file():
        raise RobosuiteEvalError(f"{what}: no zoo at {path} (collect one with: python training/collect_metaworld.py "
                                 f"--config config/robosuite_dagger.yaml)")
    try:
        zoo = Zoo.open(path)
    except ZooError as exc:
        raise RobosuiteEvalError(f"{what}: {exc}") from None
    try:
        control_of_layout(zoo.layout)
        ok = zoo.domain == "robosuite"
    except EnvError:
        ok = False
    if not ok:
        layouts = map(robosuite_sac_layout, ("osc", "joint"))
        wanted = " or ".join(f"{lay.name} ({lay.num_params} params)" for lay in layouts)
        raise RobosuiteEvalError(f"{what}: {path} holds domain {zoo.domain!r} policies of layout {zoo.layout.name} "
                                 f"({zoo.layout.num_params} params), expected robosuite policies of layout {wanted}")
    missing = [t for t in tasks if t not in zoo.tasks]
    if missing:
        raise RobosuiteEvalError(f"{what}: {path} has no checkpoints of task(s) {missing}; it has {zoo.tasks}")
    return zoo


def robosuite_task_prompts(zoo, task: str, cfg, rng: np.random.Generator, noise_rng: np.random.Generator,
                           n: int, m: int) -> tuple[list[int], list[Trajectory], np.ndarray, np.ndarray]:
    """The evaluation prompts of ``task`` (robosuite counterpart of :func:`maa_manip.eval_protocol.task_prompts`).

    Draws ``cfg.num_prompts`` rows with :func:`select_prompts` (``cfg.prompt_*`` filters) from ``rng``, takes their
    stored episode 0 with ``cfg.prompt_noise`` Gaussian action noise from ``noise_rng``, and builds success prompts
    of ``n`` pairs / ``m`` states (the retrieval bank's sizes). Returns ``(rows [K], trajectories (T steps, o / a),
    h [K, n * (o + a)], v [K, m * o])``.
    """
    rows = select_prompts(zoo, task, cfg.num_prompts, rng, cfg.prompt_min_success, cfg.prompt_max_iteration,
                          cfg.prompt_needs_success)
    tr = zoo.trajectories(task)
    obs, act, suc = (np.asarray(tr[k][rows]) for k in ("traj_obs", "traj_act", "traj_success"))
    trajs = [noisy_trajectory(Trajectory(obs[i, 0], act[i, 0], suc[i, 0], CONTROL_DT, "robosuite", task),
                              cfg.prompt_noise, noise_rng) for i in range(len(rows))]
    hv = [success_prompt(t.obs, t.act, t.success, n, m) for t in trajs]
    return rows, trajs, np.stack([x[0] for x in hv]), np.stack([x[1] for x in hv])


def bc_pretrain_rows(metadata: list[dict], tasks: list[str], total: int = 400) -> tuple[list[int], float]:
    """Rows for multi-task BC pretraining: :func:`maa_manip.eval_protocol.balanced_rows` of successful checkpoints
    (success >= 0.5); when no checkpoint of ``tasks`` is that successful (tiny zoos), every checkpoint. Returns
    ``(rows, min_success used)``."""
    from maa_manip.eval_protocol import balanced_rows

    rows = balanced_rows(metadata, tasks, total, 0.5)
    return (rows, 0.5) if rows else (balanced_rows(metadata, tasks, total, 0.0), 0.0)


def evaluate_policies_robosuite(task: str, robot: str, params: np.ndarray, episodes: int = 5, seed: int = 0,
                                steps: int = 500, layout: PolicyLayout | None = None, progress=None) -> np.ndarray:
    """Evaluate ``K`` policies on ``robot`` in the same ``episodes`` fixed configurations.

    One :class:`VecRobosuite` of ``episodes`` envs (init_mode ``fixed``, init seeds ``seed * 10007 + e``: every reset
    restores configuration ``e``) serves all policies one after another; an env stops stepping once it succeeded.
    The rollouts are deterministic, so identical rows (retrieval returning the prompt's own checkpoint, a checkpoint
    drawn twice) are rolled out once and share their result.

    Args:
        params: ``[K, P]`` flat parameters of ``layout`` (default: the ``osc`` :func:`robosuite_sac_layout`; the
            layout picks the env's state/action layout).
        progress: optional tqdm bar, advanced once per policy.
    Returns:
        ``success [K, episodes]`` bool.
    """
    layout = layout or robosuite_sac_layout()
    control = control_of_layout(layout)
    flat = torch.from_numpy(np.ascontiguousarray(layout.check_flat(params, batched=True)))
    vec = VecRobosuite(task, robot, [seed * 10007 + e for e in range(episodes)], "fixed", steps, control=control)
    distinct, copies = distinct_rows(flat.numpy())
    success = np.zeros((len(distinct), episodes), dtype=bool)
    for j, k in enumerate(distinct):
        obs = vec.reset()
        succ = success[j]
        for _ in range(steps):
            active = np.flatnonzero(~succ)
            if active.size == 0:
                break
            act = act_batched(layout, flat[k:k + 1], obs.reshape(1, episodes, layout.obs_dim))
            act = act.reshape(episodes, layout.action_dim)
            for i in active:
                obs[i], _, _, s = vec.envs[i].step(act[i])
                succ[i] |= s
        if progress is not None:
            progress.update(int(np.count_nonzero(copies == j)))
    return success[copies]


def distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``rows [K, P]``, in order of first appearance.

    Returns ``(first [D], copies [K])``: ``first[j]`` is the index of distinct row ``j``'s first appearance and
    ``rows[i]`` equals ``rows[first[copies[i]]]``.
    """
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[np.asarray(inverse).reshape(-1)]
