"""Go2 joint-level control shared by every engine and the deploy node (policy order, see ``joint_order``).

``action [N,12]`` (policy output) -> joint target ``q* = q_default + 0.25 * a`` (hip actions additionally x0.5,
as walk-these-ways' ``hip_scale_reduction``) -> PD torque ``tau = Kp (q* - q) - Kd qd`` (N.m), clamped to the
motor limits. Defaults: Kp = 20 N.m/rad, Kd = 0.5 N.m.s/rad, policy rate 50 Hz (sim dt 0.005 s x decimation 4).
"""
from __future__ import annotations

import numpy as np

from maa_go2._xp import like, xp_of
from maa_go2.joint_order import JOINT_NAMES, NUM_JOINTS

SIM_DT = 0.005  #: physics step [s]
DECIMATION = 4  #: physics steps per policy step
POLICY_DT = SIM_DT * DECIMATION  #: 0.02 s = 50 Hz
ACTION_SCALE = 0.25
HIP_SCALE_REDUCTION = 0.5
KP = 20.0
KD = 0.5

_PER_LEG = {
    # joint type: (default FL/FR, default RL/RR, lower front, upper front, lower rear, upper rear, torque)
    "hip": (0.1, 0.1, -1.0472, 1.0472, -1.0472, 1.0472, 23.7),
    "thigh": (0.8, 1.0, -1.5708, 3.4907, -0.5236, 4.5379, 23.7),
    "calf": (-1.5, -1.5, -2.7227, -0.8378, -2.7227, -0.8378, 35.55),
}


def _table(col_front: int, col_rear: int, mirror_hip: bool = False) -> np.ndarray:
    out = []
    for name in JOINT_NAMES:
        leg, jtype = name.split("_")[0], name.split("_")[1]
        val = _PER_LEG[jtype][col_front if leg.startswith("F") else col_rear]
        if mirror_hip and jtype == "hip" and leg.endswith("R"):
            val = -val
        out.append(val)
    return np.array(out, dtype=np.float64)


#: Default (standing) joint pose [rad], policy order; right hips mirrored (legged_gym Go2 defaults).
DEFAULT_JOINT_POS = _table(0, 1, mirror_hip=True)
#: Joint position limits [rad] (Go2 URDF).
JOINT_LOWER = _table(2, 4)
JOINT_UPPER = _table(3, 5)
#: Motor torque limits [N.m]: 23.7 hip/thigh, 35.55 calf.
TORQUE_LIMITS = _table(6, 6)
#: Per-joint action scale (hip reduced).
ACTION_SCALES = np.array([ACTION_SCALE * (HIP_SCALE_REDUCTION if "hip" in n else 1.0) for n in JOINT_NAMES])


def _check12(x, what: str):
    if x.shape[-1] != NUM_JOINTS:
        raise ValueError(f"{what}: expected last dim {NUM_JOINTS} (Go2 joints, policy order), got {list(x.shape)}")


def action_to_target(actions):
    """Policy actions ``[N,12]`` -> joint position targets ``[N,12]`` [rad]."""
    _check12(actions, "actions")
    return like(actions, DEFAULT_JOINT_POS) + actions * like(actions, ACTION_SCALES)


#: [rad/s] velocity scale of the smoothed dry friction ``-f tanh(qd / v)``: a sign function would chatter at rest
#: under an explicit 5 ms step; at ``f = 0.15`` N.m its slope ``f / v`` is below the PD law's own Kd
PASSIVE_FRICTION_VEL = 0.4


def passive_torque(qd, damping=0.0, friction=0.0):
    """Passive joint losses ``[N,12]`` [N.m]: ``-damping qd - friction tanh(qd / PASSIVE_FRICTION_VEL)``.

    ``damping`` [N.m.s/rad] and ``friction`` [N.m]: scalars or ``[N,1]``. Not a motor torque: added after the clamp.
    """
    xp = xp_of(qd)
    return -damping * qd - friction * xp.tanh(qd / PASSIVE_FRICTION_VEL)


def pd_torque(target, q, qd, kp=KP, kd=KD, motor_strength=1.0, limit_scale=1.0, damping=0.0, friction=0.0):
    """PD torque ``[N,12]`` [N.m] clamped to :data:`TORQUE_LIMITS`, plus :func:`passive_torque` (domain
    randomization of the joints' own losses; 0 by default).

    Args:
        target, q, qd: joint targets [rad], positions [rad], velocities [rad/s], each ``[N,12]``.
        kp, kd: gains (scalars or broadcastable arrays).
        motor_strength: multiplicative torque factor (scalar or ``[N,1]``), applied before the clamp.
        limit_scale: factor on the torque limits (scalar or ``[N,1]``; model-error evaluation).
        damping, friction: passive joint damping [N.m.s/rad] and dry friction [N.m] (scalars or ``[N,1]``).
    """
    for x, n in ((target, "target"), (q, "q"), (qd, "qd")):
        _check12(x, n)
    xp = xp_of(q)
    tau = (kp * (target - q) - kd * qd) * motor_strength
    lim = like(q, TORQUE_LIMITS) * limit_scale
    tau = xp.clip(tau, -lim, lim) if xp is np else xp.maximum(xp.minimum(tau, lim), -lim)
    if isinstance(damping, (int, float)) and isinstance(friction, (int, float)) and damping == 0 and friction == 0:
        return tau
    return tau + passive_torque(qd, damping, friction)
