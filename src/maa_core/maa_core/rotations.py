"""Base-orientation math for the Go2, in one place: quaternions are (w, x, y, z), world <- body (MuJoCo and Unitree
IMU order)."""
from __future__ import annotations

import math

import numpy as np


def quat_to_rot(q: np.ndarray) -> np.ndarray:
    """Quaternions ``[N, 4]`` (w, x, y, z) -> rotation matrices ``[N, 3, 3]`` (body -> world); normalizes first."""
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], 1)


def world_to_body(quat_wxyz: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """A world-frame vector ``[3]`` expressed in the body frame of orientation ``quat`` ``[4]``."""
    return quat_to_rot(np.asarray(quat_wxyz, dtype=np.float64)[None])[0].T @ np.asarray(vector, dtype=np.float64)


def projected_gravity(quat_wxyz: np.ndarray) -> np.ndarray:
    """Gravity unit vector ``[3]`` in the body frame for base orientation ``quat`` ``[4]`` ([0, 0, -1] upright)."""
    w, u = float(quat_wxyz[0]), np.asarray(quat_wxyz[1:], dtype=np.float64)
    v = np.array([0.0, 0.0, -1.0])
    return v * (2.0 * w * w - 1.0) - 2.0 * w * np.cross(u, v) + 2.0 * u * float(u @ v)


def quat_to_roll_pitch(quat_wxyz: np.ndarray) -> tuple[float, float]:
    """Orientation ``[4]`` -> (roll, pitch) in rad."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    return roll, pitch


def gravity_to_roll_pitch(projected_gravity_body: np.ndarray) -> tuple[float, float]:
    """Gravity direction in the body frame ``[3]`` (unit, ``[0, 0, -1]`` upright) -> (roll, pitch) in rad."""
    gx, gy, gz = (float(v) for v in projected_gravity_body)
    return math.atan2(-gy, -gz), math.asin(max(-1.0, min(1.0, gx)))


def yaw_of(quat, scalar_first: bool = True):
    """Heading [rad] (the rotation about world z, ``atan2(R[1,0], R[0,0])``) of quaternions ``[..., 4]``:
    (w, x, y, z), or (x, y, z, w) with ``scalar_first=False`` (Isaac Gym's order). numpy arrays or torch tensors."""
    if scalar_first:
        w, x, y, z = (quat[..., i] for i in range(4))
    else:
        x, y, z, w = (quat[..., i] for i in range(4))
    num, den = 2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)
    if isinstance(num, np.ndarray) or np.isscalar(num):
        return np.arctan2(num, den)
    import torch

    return torch.atan2(num, den)


def wrap_angle(a):
    """Angles [rad] (scalar or array) wrapped to [-pi, pi)."""
    return (a + np.pi) % (2.0 * np.pi) - np.pi
