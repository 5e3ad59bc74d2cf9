"""Record a behavior prompt from a running robot: (observation, action) pairs at the policy rate -> Trajectory."""
from __future__ import annotations

import numpy as np

from maa_generator.prompt import Trajectory


class PromptRecorder:
    """Collects ``num_steps`` consecutive (obs ``[o]``, action ``[a]``) samples.

    Samples must arrive in tick order; a sample whose size differs from the first is an error (the robot's
    observation layout cannot change mid-recording). Non-finite samples restart the recording.
    """

    def __init__(self, num_steps: int, dt: float, domain: str = "go2", task: str = "recorded"):
        if num_steps < 1 or dt <= 0:
            raise ValueError(f"num_steps must be >= 1 and dt > 0, got {num_steps}, {dt}")
        self.num_steps, self.dt, self.domain, self.task = num_steps, dt, domain, task
        self._obs: list[np.ndarray] = []
        self._act: list[np.ndarray] = []
        self.restarts = 0

    @property
    def done(self) -> bool:
        return len(self._obs) >= self.num_steps

    def add(self, obs, action) -> bool:
        """Append one step; returns :attr:`done`."""
        obs, action = np.asarray(obs, np.float32).reshape(-1), np.asarray(action, np.float32).reshape(-1)
        if self._obs and (obs.shape != self._obs[0].shape or action.shape != self._act[0].shape):
            raise ValueError(f"sample sizes changed mid-recording: obs {obs.size} vs {self._obs[0].size}, "
                             f"action {action.size} vs {self._act[0].size}")
        if not (np.all(np.isfinite(obs)) and np.all(np.isfinite(action))):
            self._obs.clear()
            self._act.clear()
            self.restarts += 1
            return False
        if not self.done:
            self._obs.append(obs)
            self._act.append(action)
        return self.done

    def trajectory(self) -> Trajectory:
        if not self.done:
            raise ValueError(f"recording incomplete: {len(self._obs)} of {self.num_steps} steps")
        return Trajectory(obs=np.stack(self._obs), act=np.stack(self._act), success=None, dt=self.dt,
                          domain=self.domain, task=self.task)
