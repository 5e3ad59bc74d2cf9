"""maa_core.rotations: heading from quaternions in both orders, numpy and torch."""
import numpy as np
import pytest
import torch

from maa_core.rotations import quat_to_rot, yaw_of


def _quat_wxyz(yaw, pitch=0.0):
    cy, sy, cp, sp = np.cos(yaw / 2), np.sin(yaw / 2), np.cos(pitch / 2), np.sin(pitch / 2)
    return np.stack([cy * cp, -sy * sp, cy * sp, sy * cp], -1)  # z-yaw then y-pitch


@pytest.mark.parametrize("yaw", [0.0, 0.3, -1.2, 2.5, -3.0])
def test_yaw_matches_the_rotation_matrix(yaw):
    q = _quat_wxyz(np.array([yaw]), np.array([0.2]))
    r = quat_to_rot(q)
    assert yaw_of(q)[0] == pytest.approx(np.arctan2(r[0, 1, 0], r[0, 0, 0]), abs=1e-12)
    assert yaw_of(q)[0] == pytest.approx(yaw, abs=1e-9)


def test_scalar_last_order_and_torch():
    q = _quat_wxyz(np.array([0.3, -1.2, 2.5]))
    xyzw = torch.as_tensor(q[:, [1, 2, 3, 0]])
    got = yaw_of(xyzw, scalar_first=False)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), [0.3, -1.2, 2.5], atol=1e-9)
