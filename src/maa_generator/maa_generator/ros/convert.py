"""ROS message conversions for maa_msgs (thin: all checks live in the ROS-free modules)."""
from __future__ import annotations

import numpy as np

from maa_core.layout import PolicyLayout
from maa_core.prompt import PromptError, Trajectory
from maa_core.weights_codec import PolicyMeta, decode_message, fill_message
from maa_generator.service import PromptLimits
from maa_msgs.msg import PolicyWeights
from maa_msgs.msg import Trajectory as TrajectoryMsg


def trajectory_from_msg(msg: TrajectoryMsg, limits: PromptLimits | None = None) -> Trajectory:
    """Validate a ``maa_msgs/Trajectory`` and convert it.

    Args:
        limits: optional size bounds, checked on the declared sizes and array lengths before any array is converted.
    Raises:
        PromptError: when the prompt exceeds ``limits``, sizes disagree (``num_steps``, ``obs_dim``, ``action_dim``
            vs the array lengths), the trajectory is empty, or values are not finite.
    """
    t, o, a = int(msg.num_steps), int(msg.obs_dim), int(msg.action_dim)
    if limits is not None:
        limits.check(t, o, a, num_observations=len(msg.observations), num_actions=len(msg.actions),
                     num_success=len(msg.success))
    if t <= 0 or o <= 0 or a <= 0:
        raise PromptError(f"trajectory needs num_steps, obs_dim, action_dim > 0, got {t}, {o}, {a}")
    if len(msg.observations) != t * o:
        raise PromptError(f"observations has {len(msg.observations)} values, expected num_steps*obs_dim = {t * o}")
    if len(msg.actions) != t * a:
        raise PromptError(f"actions has {len(msg.actions)} values, expected num_steps*action_dim = {t * a}")
    if len(msg.success) not in (0, t):
        raise PromptError(f"success has {len(msg.success)} flags, expected 0 (none) or num_steps = {t}")
    obs = np.asarray(msg.observations, dtype=np.float32).reshape(t, o)
    act = np.asarray(msg.actions, dtype=np.float32).reshape(t, a)
    success = np.asarray(msg.success, dtype=bool) if len(msg.success) else None
    return Trajectory(obs=obs, act=act, success=success, dt=float(msg.dt) if msg.dt > 0 else 0.02,
                      domain=msg.domain, task=msg.task)


def trajectory_to_msg(traj: Trajectory, source: str = "") -> TrajectoryMsg:
    """Convert a core :class:`Trajectory` to ``maa_msgs/Trajectory`` (header left for the caller to stamp)."""
    msg = TrajectoryMsg(domain=traj.domain, task=traj.task, obs_dim=traj.obs_dim, action_dim=traj.act_dim,
                        num_steps=traj.length, dt=float(traj.dt), source=source)
    msg.observations = traj.obs.reshape(-1).astype(np.float32)
    msg.actions = traj.act.reshape(-1).astype(np.float32)
    msg.success = [bool(s) for s in traj.success] if traj.success is not None else []
    return msg


def weights_to_msg(layout: PolicyLayout, flat: np.ndarray, meta: PolicyMeta | None = None) -> PolicyWeights:
    return fill_message(PolicyWeights(), layout, flat, meta)


def weights_from_msg(msg: PolicyWeights, expected: PolicyLayout | None = None):
    """``(layout, flat, meta)``; raises ``WeightsError`` with the reason when the message is rejected."""
    return decode_message(msg, expected)
