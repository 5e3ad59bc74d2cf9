"""The one robot interface the deploy loop talks to (simulation and the real Go2 alike).

All joint arrays are ``[12]`` in policy order (``maa_go2.joint_order``: FL, FR, RL, RR; hip, thigh, calf);
backends convert to their own order internally. Times are ``time.monotonic()`` seconds.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

#: Damping command gains: kp = 0 and this kd (N·m·s/rad) on every joint.
DEFAULT_DAMPING_KD = 2.0


@dataclass
class RobotState:
    """One measured state.

    Attributes:
        q: ``[12]`` joint positions, rad.
        dq: ``[12]`` joint velocities, rad/s.
        quat: ``[4]`` base orientation (w, x, y, z), world <- body.
        gyro: ``[3]`` base angular velocity in the body frame, rad/s.
        stamp: ``time.monotonic()`` when the state was received/produced, s.
        tau_est: ``[12]`` estimated joint torques, N·m (zeros when unknown).
    """

    q: np.ndarray
    dq: np.ndarray
    quat: np.ndarray
    gyro: np.ndarray
    stamp: float
    tau_est: np.ndarray = field(default_factory=lambda: np.zeros(12))


class Backend(abc.ABC):
    """Robot backend. Implementations must make :meth:`damping` safe to call at any time, repeatedly."""

    #: name used in logs and diagnostics
    name: str = "backend"

    @abc.abstractmethod
    def read_state(self) -> RobotState:
        """Latest measured state (non-blocking; its ``stamp`` tells how fresh it is)."""

    @abc.abstractmethod
    def write_command(self, q_des: np.ndarray, kp, kd, tau_ff=0.0) -> None:
        """Send a joint PD command: ``tau = kp (q_des - q) + kd (0 - dq) + tau_ff``.

        Args:
            q_des: ``[12]`` rad. kp, kd: scalar or ``[12]``. tau_ff: scalar or ``[12]`` N·m.
        """

    @abc.abstractmethod
    def damping(self) -> None:
        """Command pure damping (kp = 0, kd > 0, no feed-forward) on all joints."""

    def close(self) -> None:
        """Release resources; the last command sent must be damping."""
        self.damping()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
