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


class GaitRecorder:
    """Per-step signals of ``N`` simulated robots for :func:`maa_go2.behavior.describe_rollout`, cut at each
    robot's first fall (the engine resets a fallen env; what follows is another episode).

    :meth:`add` takes the MuJoCo engine's step ``info`` (``foot_force``, ``foot_height``, ``base_height``,
    ``base_lin_vel``, ``base_ang_vel``, ``commands``, ``fell``) and optionally the observation ``[N, 70]``.
    """

    SIGNALS = ("contact", "foot_height", "base_height", "base_vel", "yaw_rate", "vx_error", "yaw_error")

    def __init__(self, num_envs: int):
        self.alive = np.ones(num_envs, bool)
        self.rec: dict[str, list] = {k: [] for k in (*self.SIGNALS, "obs")}

    def add(self, info: dict, obs: np.ndarray | None = None, record: bool = True) -> None:
        """Update the fall mask from ``info["fell"]``; with ``record``, store this step (NaN for fallen robots)."""
        self.alive &= ~np.asarray(info["fell"], bool)
        if not record:
            return
        gone = np.where(self.alive, 0.0, NAN)
        rec = self.rec
        rec["contact"].append(contact_from_force(info["foot_force"]) + gone[:, None])
        rec["foot_height"].append(info["foot_height"] + gone[:, None])
        rec["base_height"].append(info["base_height"] + gone)
        rec["base_vel"].append(info["base_lin_vel"] + gone[:, None])
        rec["yaw_rate"].append(info["base_ang_vel"][:, 2] + gone)
        rec["vx_error"].append(np.abs(info["base_lin_vel"][:, 0] - info["commands"][:, 0]) + gone)
        rec["yaw_error"].append(np.abs(info["base_ang_vel"][:, 2] - info["commands"][:, 2]) + gone)
        if obs is not None:
            rec["obs"].append(obs + gone[:, None])

    def arrays(self) -> dict[str, np.ndarray]:
        """``{signal: [N, T, ...]}`` of the recorded steps (``obs`` only if observations were given)."""
        return {k: np.stack(v, 1) for k, v in self.rec.items() if v}

    def describe(self) -> list[BehaviorDescriptors]:
        """One :class:`BehaviorDescriptors` per robot (flag ``fell`` for a robot that fell)."""
        a = self.arrays()
        per_env = describe_rollout(a["contact"], a["foot_height"], a["base_height"], a["base_vel"], a["yaw_rate"],
                                   dt=POLICY_DT)
        return [d if self.alive[i] else replace(d, flags=d.flags + ("fell",)) for i, d in enumerate(per_env)]

    def tracking_errors(self) -> dict[str, np.ndarray]:
        """Mean absolute ``vx_error`` [m/s] and ``yaw_error`` [rad/s] per robot ``[N]`` over its recorded steps
        before any fall (NaN if none)."""
        a = self.arrays()
        out = {}
        for k in ("vx_error", "yaw_error"):
            x = a[k]
            n = np.isfinite(x).sum(1)
            out[k] = np.where(n > 0, np.nansum(x, 1) / np.maximum(n, 1), NAN)
        return out


def _record(env, runner: ActorRunner, steps: int, warmup: int) -> GaitRecorder:
    """Step ``env`` ``steps`` times with ``runner``; record the steps after ``warmup`` (observations included)."""
    recorder = GaitRecorder(env.num_envs)
    obs, hist = env.obs.copy(), env.get_obs_history()
    for t in range(steps):
        obs, _, _, _, info = env.step(runner.act(obs, hist))
        hist = info["obs_history"]
        recorder.add(info, obs, record=t >= warmup)
    return recorder


def rollout_descriptors(runner: ActorRunner, commands, seconds: float = 4.0, num_envs: int = 8, seed: int = 0,
                        warmup_s: float = 1.0, domain_rand=None) -> RolloutDescriptors:
    """Roll ``runner`` in ``num_envs`` MuJoCo envs (randomized physics and observation noise as
    :func:`maa_go2.evaluation.evaluate_actor`, no pushes) with the fixed ``commands [15]`` for ``warmup_s +
    seconds``, and describe the last ``seconds`` of each env (up to its first fall, if any). ``domain_rand``: see
    :func:`maa_go2.env_config.evaluation_env_config`."""
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.env_config import evaluation_env_config

    commanded = describe_commands(commands)
    if seconds <= 0 or warmup_s < 0 or num_envs < 1:
        raise ValueError(f"need seconds > 0, warmup_s >= 0, num_envs >= 1, got {seconds}, {warmup_s}, {num_envs}")
    cfg = evaluation_env_config(num_envs, warmup_s + seconds, runner.adaptation.history_len, domain_rand=domain_rand)
    env = MujocoGo2Env(cfg, seed=seed)
    env.set_commands(np.tile(np.asarray(commands, dtype=float), (num_envs, 1)))
    env.reset()
    warmup = int(round(warmup_s / POLICY_DT))
    recorder = _record(env, runner, warmup + int(round(seconds / POLICY_DT)), warmup)
    rec, alive = recorder.arrays(), recorder.alive
    per_env = recorder.describe()
    steps = np.isfinite(rec["base_height"]).sum(1)
    observed = mean_descriptors(describe_observations(rec["obs"], dt=POLICY_DT))
    return RolloutDescriptors(per_env, mean_descriptors(per_env), alive, steps, commanded, observed)
