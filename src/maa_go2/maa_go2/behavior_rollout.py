"""Behavior descriptors of an actor rolled out in the MuJoCo engine (see :mod:`maa_go2.behavior`).

:func:`rollout_descriptors` rolls an actor with fixed commands in randomized envs and describes each env from its
contacts, foot and base heights and velocities (:func:`maa_go2.behavior.describe_rollout`), next to what the
commands ask for and what a prompt recorded from the same rollout would give.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from maa_go2.behavior import NAN, BehaviorDescriptors, contact_from_force, describe_rollout, mean_descriptors
from maa_go2.behavior_obs import describe_commands, describe_observations
from maa_go2.control import POLICY_DT

if TYPE_CHECKING:
    from maa_go2.evaluation import ActorRunner


class RolloutDescriptors(NamedTuple):
    """:func:`rollout_descriptors` output: ``per_env`` descriptors, their ``mean``, ``alive [N]`` (never fell),
    ``steps [N]`` (policy steps described per env), the ``commanded`` descriptors, and ``observed``: the mean of
    :func:`describe_observations` over the envs' recorded observations (what a prompt recorded from this rollout
    would give)."""

    per_env: list
    mean: BehaviorDescriptors
    alive: np.ndarray
    steps: np.ndarray
    commanded: BehaviorDescriptors
    observed: BehaviorDescriptors


def _record(env, runner: ActorRunner, steps: int, warmup: int) -> tuple[dict, np.ndarray]:
    """Step ``env`` ``steps`` times; after ``warmup``, record per step ``contact [N,4]``, ``foot_height [N,4]``,
    ``base_height [N]``, ``base_vel [N,3]``, ``yaw_rate [N]``, ``obs [N,70]`` (NaN from an env's first fall on).
    Returns (``{name: [N, T, ...]}``, alive ``[N]``)."""
    n = env.num_envs
    alive = np.ones(n, bool)
    rec = {k: [] for k in ("contact", "foot_height", "base_height", "base_vel", "yaw_rate", "obs")}
    obs, hist = env.obs.copy(), env.get_obs_history()
    for t in range(steps):
        obs, _, _, _, info = env.step(runner.act(obs, hist))
        hist = info["obs_history"]
        alive &= ~info["fell"]
        if t < warmup:
            continue
        gone = np.where(alive, 0.0, NAN)  # a fallen env is reset by the engine: its data ends at the fall
        rec["contact"].append(contact_from_force(info["foot_force"]) + gone[:, None])
        rec["foot_height"].append(env._kinematics()["foot_height"] + gone[:, None])
        rec["base_height"].append(info["base_height"] + gone)
        rec["base_vel"].append(info["base_lin_vel"] + gone[:, None])
        rec["yaw_rate"].append(info["base_ang_vel"][:, 2] + gone)
        rec["obs"].append(obs + gone[:, None])
    return {k: np.stack(v, 1) for k, v in rec.items()}, alive


def rollout_descriptors(runner: ActorRunner, commands, seconds: float = 4.0, num_envs: int = 8, seed: int = 0,
                        warmup_s: float = 1.0) -> RolloutDescriptors:
    """Roll ``runner`` in ``num_envs`` MuJoCo envs (randomized physics and observation noise as
    :func:`maa_go2.evaluation.evaluate_actor`, no pushes) with the fixed ``commands [15]`` for ``warmup_s +
    seconds``, and describe the last ``seconds`` of each env (up to its first fall, if any)."""
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.env_config import evaluation_env_config

    commanded = describe_commands(commands)
    if seconds <= 0 or warmup_s < 0 or num_envs < 1:
        raise ValueError(f"need seconds > 0, warmup_s >= 0, num_envs >= 1, got {seconds}, {warmup_s}, {num_envs}")
    cfg = evaluation_env_config(num_envs, warmup_s + seconds, runner.adaptation.history_len)
    env = MujocoGo2Env(cfg, seed=seed)
    env.set_commands(np.tile(np.asarray(commands, dtype=float), (num_envs, 1)))
    env.reset()
    warmup = int(round(warmup_s / POLICY_DT))
    rec, alive = _record(env, runner, warmup + int(round(seconds / POLICY_DT)), warmup)
    per_env = describe_rollout(rec["contact"], rec["foot_height"], rec["base_height"], rec["base_vel"],
                               rec["yaw_rate"], dt=POLICY_DT)
    per_env = [d if alive[i] else replace(d, flags=d.flags + ("fell",)) for i, d in enumerate(per_env)]
    steps = np.isfinite(rec["base_height"]).sum(1)
    observed = mean_descriptors(describe_observations(rec["obs"], dt=POLICY_DT))
    return RolloutDescriptors(per_env, mean_descriptors(per_env), alive, steps, commanded, observed)
