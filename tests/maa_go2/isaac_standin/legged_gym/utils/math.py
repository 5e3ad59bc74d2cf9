"""Stand-in ``legged_gym.utils.math``."""
import torch
from isaacgym.torch_utils import quat_apply


def wrap_to_pi(angles: torch.Tensor) -> torch.Tensor:
    return (angles + torch.pi) % (2 * torch.pi) - torch.pi


def quat_apply_yaw(quat: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    """Rotate ``vec`` by the yaw part of ``quat`` only."""
    yaw_only = quat.clone().view(-1, 4)
    yaw_only[:, :2] = 0.0
    yaw_only = yaw_only / yaw_only.norm(dim=-1, keepdim=True)
    return quat_apply(yaw_only, vec)


def get_euler_xyz(q: torch.Tensor):
    """Roll, pitch, yaw in [0, 2 pi) of (x, y, z, w) quaternions."""
    x, y, z, w = q.unbind(-1)
    roll = torch.atan2(2 * (w * x + y * z), w * w - x * x - y * y + z * z)
    pitch = torch.asin(torch.clamp(2 * (w * y - z * x), -1.0, 1.0))
    yaw = torch.atan2(2 * (w * z + x * y), w * w + x * x - y * y - z * z)
    return roll % (2 * torch.pi), pitch % (2 * torch.pi), yaw % (2 * torch.pi)
