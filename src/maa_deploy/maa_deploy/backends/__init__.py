"""Robot backends behind :class:`maa_deploy.backends.base.Backend`: ``sim`` (MuJoCo Go2) and ``unitree``."""
from maa_deploy.backends.base import DEFAULT_DAMPING_KD, Backend, RobotState

__all__ = ["Backend", "RobotState", "DEFAULT_DAMPING_KD", "make_backend"]


def make_backend(kind: str, **kwargs) -> Backend:
    """Create a backend by name (``"sim"`` or ``"unitree"``); imports lazily so neither needs the other's deps."""
    if kind == "sim":
        from maa_deploy.backends.sim import SimBackend

        return SimBackend(**kwargs)
    if kind == "unitree":
        from maa_deploy.backends.unitree import UnitreeBackend

        return UnitreeBackend(**kwargs)
    raise ValueError(f"unknown backend {kind!r}; expected 'sim' or 'unitree'")
