"""Behavior prompts: raw trajectories -> inputs of the behavior embedding.

Convention: ``obs[t]`` is the observation the policy acted on with ``act[t]``; ``success[t]`` is the success
flag reported *after* that step, i.e. it refers to the next state ``obs[t + 1]``. Hence "the ``m`` states right
after the first success" at step ``s`` are ``obs[s + 1 : s + 1 + m]``.

* ``h`` (trajectory prompt): the first ``n`` state-action pairs, flattened step-major as
  ``[obs_0, act_0, obs_1, act_1, ...]`` -> ``[n * (o + a)]``.
* ``v`` (success prompt): ``m`` states after the first success (the last ``m`` states if there is none)
  -> ``[m * o]``.

Short trajectories are padded by repeating their last step (``h``, ``v`` after a late success) or, for
``v`` taken from the end of a trajectory shorter than ``m``, their first state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class PromptError(ValueError):
    """Raised for malformed trajectories (wrong shape, NaN, too short)."""


@dataclass
class Trajectory:
    """One behavior demonstration.

    Args:
        obs: ``[T, o]`` observations (float).
        act: ``[T, a]`` actions (float).
        success: ``[T]`` bool success flags (after each step) or ``None`` if unknown (locomotion).
        dt: control period in seconds.
        domain: e.g. ``metaworld``, ``go2``.
        task: task name, e.g. ``door-open``.
    """

    obs: np.ndarray
    act: np.ndarray
    success: np.ndarray | None = None
    dt: float = 0.0125
    domain: str = ""
    task: str = ""

    def __post_init__(self) -> None:
        self.obs = np.asarray(self.obs, dtype=np.float32)
        self.act = np.asarray(self.act, dtype=np.float32)
        if self.obs.ndim != 2:
            raise PromptError(f"trajectory obs must be 2-D [T, obs_dim], got shape {list(self.obs.shape)}")
        if self.act.ndim != 2:
            raise PromptError(f"trajectory act must be 2-D [T, act_dim], got shape {list(self.act.shape)}")
        if self.obs.shape[0] != self.act.shape[0]:
            raise PromptError(
                f"trajectory obs and act must have the same length T, got {self.obs.shape[0]} and {self.act.shape[0]}"
            )
        if self.obs.shape[0] < 1:
            raise PromptError("trajectory must have at least 1 step, got 0")
        for name, arr in (("obs", self.obs), ("act", self.act)):
            if not np.all(np.isfinite(arr)):
                raise PromptError(
                    f"trajectory {name} contains {int(np.sum(~np.isfinite(arr)))} non-finite values (NaN/inf)"
                )
        if self.success is not None:
            self.success = np.asarray(self.success)
            if self.success.shape != (self.obs.shape[0],):
                raise PromptError(
                    f"trajectory success must have shape [{self.obs.shape[0]}], got {list(self.success.shape)}"
                )
            self.success = self.success.astype(bool)
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise PromptError(f"trajectory dt must be a positive number of seconds, got {self.dt}")

    @property
    def length(self) -> int:
        return int(self.obs.shape[0])

    @property
    def obs_dim(self) -> int:
        return int(self.obs.shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.act.shape[1])


def _check_arrays(obs, act) -> tuple[np.ndarray, np.ndarray]:
    obs = np.asarray(obs, dtype=np.float32)
    act = np.asarray(act, dtype=np.float32)
    if obs.ndim != 2 or act.ndim != 2 or obs.shape[0] != act.shape[0]:
        raise PromptError(
            f"expected obs [T, o] and act [T, a] with the same T, got {list(obs.shape)} and {list(act.shape)}"
        )
    if obs.shape[0] < 1:
        raise PromptError("trajectory must have at least 1 step, got 0")
    if not (np.all(np.isfinite(obs)) and np.all(np.isfinite(act))):
        raise PromptError("trajectory contains non-finite values (NaN/inf)")
    return obs, act


def _take(arr: np.ndarray, start: int, count: int) -> np.ndarray:
    """``arr[start:start+count]``, clamping indices to the last row (pads by repetition)."""
    idx = np.minimum(np.arange(start, start + count), arr.shape[0] - 1)
    return arr[np.maximum(idx, 0)]


def trajectory_prompt(obs: np.ndarray, act: np.ndarray, n: int) -> np.ndarray:
    """First ``n`` state-action pairs -> ``h`` ``[n * (o + a)]`` float32 (padded by repeating the last step)."""
    obs, act = _check_arrays(obs, act)
    pairs = np.concatenate([_take(obs, 0, n), _take(act, 0, n)], axis=1)
    return pairs.reshape(-1)


def success_prompt(
    obs: np.ndarray, act: np.ndarray, success: np.ndarray | None, n: int = 60, m: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Manipulation prompt.

    Args:
        obs: ``[T, o]``; act: ``[T, a]``; success: ``[T]`` bool flags after each step, or ``None``.
        n: state-action pairs in ``h``; m: states in ``v``.
    Returns:
        ``h`` ``[n * (o + a)]`` and ``v`` ``[m * o]`` (float32).
    """
    if n < 1 or m < 1:
        raise PromptError(f"prompt sizes must be >= 1, got n={n}, m={m}")
    obs, act = _check_arrays(obs, act)
    h = trajectory_prompt(obs, act, n)
    start = obs.shape[0] - m
    if success is not None:
        success = np.asarray(success).astype(bool)
        if success.shape != (obs.shape[0],):
            raise PromptError(f"success must have shape [{obs.shape[0]}], got {list(success.shape)}")
        hits = np.flatnonzero(success)
        if hits.size:
            start = int(hits[0]) + 1
    v = _take(obs, start, m).reshape(-1)
    return h, v


def segmented_prompt(
    obs: np.ndarray, act: np.ndarray, n: int, m: int, num_segments: int
) -> tuple[np.ndarray, np.ndarray]:
    """Locomotion prompt: split the trajectory into ``num_segments`` contiguous segments (``np.array_split``).

    Per segment, ``h`` is its first ``n`` state-action pairs and ``v`` its last ``m`` states (segments shorter
    than ``n`` / ``m`` are padded by repeating their last step / first state respectively).

    Returns:
        ``h`` ``[S, n * (o + a)]`` and ``v`` ``[S, m * o]`` (float32).
    """
    if n < 1 or m < 1 or num_segments < 1:
        raise PromptError(f"prompt sizes must be >= 1, got n={n}, m={m}, num_segments={num_segments}")
    obs, act = _check_arrays(obs, act)
    if obs.shape[0] < num_segments:
        raise PromptError(f"trajectory of {obs.shape[0]} steps is shorter than num_segments={num_segments}")
    hs, vs = [], []
    for idx in np.array_split(np.arange(obs.shape[0]), num_segments):
        so, sa = obs[idx], act[idx]
        hs.append(trajectory_prompt(so, sa, n))
        vs.append(_take(so, so.shape[0] - m, m).reshape(-1))
    return np.stack(hs), np.stack(vs)


def prompt_dims(obs_dim: int, act_dim: int, n: int, m: int) -> tuple[int, int]:
    """``(Dh, Dv)`` = ``(n * (obs_dim + act_dim), m * obs_dim)``."""
    return n * (obs_dim + act_dim), m * obs_dim


def make_prompt(traj: Trajectory, n: int, m: int, segments: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Prompt of one :class:`Trajectory`: ``success_prompt`` if ``segments == 0`` (``[Dh]``, ``[Dv]``), else
    ``segmented_prompt`` with ``segments`` segments (``[S, Dh]``, ``[S, Dv]``)."""
    if segments == 0:
        return success_prompt(traj.obs, traj.act, traj.success, n, m)
    return segmented_prompt(traj.obs, traj.act, n, m, segments)
