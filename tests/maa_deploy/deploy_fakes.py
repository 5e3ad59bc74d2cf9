"""Test doubles for maa_deploy: a scripted fake robot (tests only) and small policy layouts."""
from __future__ import annotations

import numpy as np

from maa_core.layout import PolicyLayout
from maa_core.weights_io import WeightsPayload, checksum
from maa_deploy.backends.base import Backend, RobotState
from maa_go2.control import DEFAULT_JOINT_POS

OBS_DIM = 70
HISTORY = 3
LATENT = 4


class FakeClock:
    """Manually advanced monotonic clock."""

    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


class FakeTestBackend(Backend):
    """Test-only scripted robot: returns ``self.state`` (stamped by ``clock`` unless ``frozen``), records commands."""

    name = "fake-test"

    def __init__(self, clock=None, q=None):
        self.clock = clock or FakeClock()
        q = DEFAULT_JOINT_POS.copy() if q is None else np.asarray(q, dtype=float)
        self.state = RobotState(q=q, dq=np.zeros(12), quat=np.array([1.0, 0, 0, 0]), gyro=np.zeros(3),
                                stamp=self.clock())
        self.frozen = False
        self.commands: list[tuple] = []
        self.damping_calls = 0
        self.closed = False

    def read_state(self) -> RobotState:
        if not self.frozen:
            self.state.stamp = self.clock()
        return self.state

    def write_command(self, q_des, kp, kd, tau_ff=0.0) -> None:
        self.commands.append(("cmd", np.array(q_des), np.array(kp), np.array(kd)))

    def damping(self) -> None:
        self.damping_calls += 1
        self.commands.append(("damping",))

    def close(self) -> None:
        self.damping()
        self.closed = True


def small_actor_layout() -> PolicyLayout:
    return PolicyLayout(obs_dim=OBS_DIM + LATENT, action_dim=12, hidden=(32, 16), activation="elu", output="linear",
                        name="go2_actor_test")


def adaptation_payload(seed: int = 1) -> WeightsPayload:
    layout = PolicyLayout(obs_dim=OBS_DIM * HISTORY, action_dim=LATENT, hidden=(16,), activation="elu",
                          output="linear", name="adaptation_test")
    flat = (np.random.default_rng(seed).normal(0, 0.05, layout.num_params)).astype(np.float32)
    return WeightsPayload(layout, flat, checksum(flat), "test-adaptation")


def random_actor(seed: int = 0, std: float = 0.05) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, std, small_actor_layout().num_params).astype(np.float32)
