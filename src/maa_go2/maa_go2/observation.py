"""THE Go2 observation layout (walk-these-ways), defined once and used by every engine and the deploy node.

One observation is 70 floats, the concatenation of the named terms below, each multiplied by its scale:

===================  ====  ===========================================================
term                 size  content
===================  ====  ===========================================================
projected_gravity       3  gravity unit vector in the base frame
commands               15  ``commands.COMMAND_NAMES`` x ``COMMAND_SCALES``
dof_pos                12  q - q_default [rad], policy joint order
dof_vel                12  qd [rad/s] x 0.05
actions                12  current policy action (before scaling)
last_actions           12  previous policy action
clock                   4  sin(2 pi foot_index) for FL, FR, RL, RR
===================  ====  ===========================================================

The actor sees the current observation plus the adaptation module's latent; the adaptation module sees a history
of ``history_len`` observations, oldest first (``ObservationHistory``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from maa_go2._xp import cat, like, xp_of

#: WTW obs_scales applied to the 15 commands (lin_vel 2.0, ang_vel 0.25, body_height 2.0, gait freq/phase 1.0,
#: footswing 0.15, pitch/roll 0.3, stance width/length 1.0, aux 1.0).
COMMAND_SCALES = np.array([2.0, 2.0, 0.25, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.15, 0.3, 0.3, 1.0, 1.0, 1.0])
DOF_POS_SCALE = 1.0
DOF_VEL_SCALE = 0.05


class ObsTerm(NamedTuple):
    name: str
    size: int
    scale: np.ndarray | float


OBS_TERMS: tuple[ObsTerm, ...] = (
    ObsTerm("projected_gravity", 3, 1.0),
    ObsTerm("commands", 15, COMMAND_SCALES),
    ObsTerm("dof_pos", 12, DOF_POS_SCALE),
    ObsTerm("dof_vel", 12, DOF_VEL_SCALE),
    ObsTerm("actions", 12, 1.0),
    ObsTerm("last_actions", 12, 1.0),
    ObsTerm("clock", 4, 1.0),
)
OBS_DIM = sum(t.size for t in OBS_TERMS)  # 70


def obs_slices() -> dict[str, slice]:
    """``{term name: slice into the 70-dim observation}``."""
    out, start = {}, 0
    for t in OBS_TERMS:
        out[t.name] = slice(start, start + t.size)
        start += t.size
    return out


OBS_SLICES = obs_slices()
#: Per-element observation noise amplitude (uniform +-, in scaled units), as WTW's noise_scales x noise_level 1.
NOISE_VECTOR = np.concatenate([np.full(3, 0.05), np.zeros(15), np.full(12, 0.01), np.full(12, 1.5 * DOF_VEL_SCALE),
                               np.zeros(12), np.zeros(12), np.zeros(4)])


def build_observation(projected_gravity, commands, dof_pos, dof_vel, actions, last_actions, clock):
    """Concatenate and scale the terms into ``[N, 70]``.

    Args:
        projected_gravity: ``[N,3]``; commands: ``[N,15]``; dof_pos: joint positions ``[N,12]`` [rad] (absolute,
        the default pose is subtracted here); dof_vel: ``[N,12]`` [rad/s]; actions, last_actions: ``[N,12]``;
        clock: ``[N,4]``. numpy arrays or torch tensors (all the same kind).
    """
    from maa_go2.control import DEFAULT_JOINT_POS

    parts = {"projected_gravity": projected_gravity, "commands": commands,
             "dof_pos": dof_pos - like(dof_pos, DEFAULT_JOINT_POS), "dof_vel": dof_vel, "actions": actions,
             "last_actions": last_actions, "clock": clock}
    scaled = []
    for t in OBS_TERMS:
        x = parts[t.name]
        if x.ndim != 2 or x.shape[1] != t.size:
            raise ValueError(f"observation term {t.name}: expected shape [N, {t.size}], got {list(x.shape)}")
        scale = like(x, t.scale) if isinstance(t.scale, np.ndarray) else t.scale
        scaled.append(x * scale)
    obs = cat(scaled, axis=-1)
    xp = xp_of(obs)
    if not bool(xp.all(xp.isfinite(obs))):
        raise ValueError("observation contains NaN/inf")
    return obs


class ObservationHistory:
    """Ring buffer of the last ``length`` observations per env, returned oldest-first as ``[N, length*70]``."""

    def __init__(self, num_envs: int, length: int, obs_dim: int = OBS_DIM):
        if length < 1:
            raise ValueError(f"history length must be >= 1, got {length}")
        self.length, self.obs_dim = length, obs_dim
        self.buf = np.zeros((num_envs, length, obs_dim), dtype=np.float32)

    def reset(self, env_ids: np.ndarray, obs: np.ndarray) -> None:
        """Fill the history of ``env_ids`` with ``obs [len(env_ids), 70]``."""
        self.buf[env_ids] = obs[:, None, :]

    def push(self, obs: np.ndarray) -> np.ndarray:
        """Append ``obs [N,70]``; return the flat history ``[N, length*70]``."""
        self.buf[:, :-1] = self.buf[:, 1:]
        self.buf[:, -1] = obs
        return self.flat()

    def flat(self) -> np.ndarray:
        return self.buf.reshape(self.buf.shape[0], -1)
