"""Go2 joint order: the one definition shared by simulation, training, collection and deployment.

Canonical ("policy") order is legged_gym's, which is the order Isaac Gym loads the Go2 URDF DOFs in:
FL, FR, RL, RR legs, each (hip, thigh, calf). The Unitree SDK (``rt/lowcmd`` / ``rt/lowstate``
``motor_cmd[i]``) uses FR, FL, RR, RL, each (hip, thigh, calf).

All arrays inside maa are in policy order; conversion to/from SDK order happens only at the
robot boundary with :func:`policy_to_sdk` / :func:`sdk_to_policy`.
"""
from __future__ import annotations

import numpy as np

LEGS_POLICY = ("FL", "FR", "RL", "RR")
LEGS_SDK = ("FR", "FL", "RR", "RL")
JOINT_TYPES = ("hip", "thigh", "calf")

#: Joint names in policy order, e.g. ``FL_hip_joint``.
JOINT_NAMES = tuple(f"{leg}_{j}_joint" for leg in LEGS_POLICY for j in JOINT_TYPES)
#: Joint names in SDK motor order.
SDK_JOINT_NAMES = tuple(f"{leg}_{j}_joint" for leg in LEGS_SDK for j in JOINT_TYPES)
NUM_JOINTS = 12

#: ``POLICY_TO_SDK[i]`` = SDK motor index of policy joint ``i``.
POLICY_TO_SDK = np.array([SDK_JOINT_NAMES.index(n) for n in JOINT_NAMES], dtype=np.int64)
#: ``SDK_TO_POLICY[k]`` = policy index of SDK motor ``k``.
SDK_TO_POLICY = np.array([JOINT_NAMES.index(n) for n in SDK_JOINT_NAMES], dtype=np.int64)


def policy_to_sdk(values: np.ndarray) -> np.ndarray:
    """Reorder ``[..., 12]`` from policy order to SDK motor order."""
    values = np.asarray(values)
    if values.shape[-1] != NUM_JOINTS:
        raise ValueError(f"expected last dim {NUM_JOINTS} (Go2 joints), got shape {list(values.shape)}")
    out = np.empty_like(values)
    out[..., POLICY_TO_SDK] = values
    return out


def sdk_to_policy(values: np.ndarray) -> np.ndarray:
    """Reorder ``[..., 12]`` from SDK motor order to policy order."""
    values = np.asarray(values)
    if values.shape[-1] != NUM_JOINTS:
        raise ValueError(f"expected last dim {NUM_JOINTS} (Go2 joints), got shape {list(values.shape)}")
    return values[..., POLICY_TO_SDK]
