"""Record a behavior prompt from a running robot: (observation, action) pairs at the policy rate -> Trajectory."""
from __future__ import annotations

import numpy as np

from maa_core.prompt import Trajectory

MAX_GAPS = 100  # latest gap reports kept in PromptRecorder.gaps (the counter num_gaps counts them all)


class PromptRecorder:
    """Collects ``num_steps`` consecutive (obs ``[o]``, action ``[a]``) samples.

    Samples must arrive in tick order; a sample whose size differs from the first is an error (the robot's
    observation layout cannot change mid-recording). Non-finite samples restart the recording.

    With tick sequence numbers (``maa_msgs/PolicyStep.sequence``), a prompt is ``num_steps`` *consecutive* ticks:
    a gap (``sequence != previous + 1``, a dropped message) is recorded in :attr:`gaps` as ``(expected, got)`` and
    restarts the recording from that sample; a duplicate or backwards sequence is ignored and counted in
    :attr:`out_of_order`. Memory is bounded: at most ``num_steps`` samples and :data:`MAX_GAPS` gap reports.
    """

    def __init__(self, num_steps: int, dt: float, domain: str = "go2", task: str = "recorded"):
        if num_steps < 1 or dt <= 0:
            raise ValueError(f"num_steps must be >= 1 and dt > 0, got {num_steps}, {dt}")
        self.num_steps, self.dt, self.domain, self.task = num_steps, dt, domain, task
        self._obs: list[np.ndarray] = []
        self._act: list[np.ndarray] = []
        self.restarts = 0
        self.gaps: list[tuple[int, int]] = []  # the latest MAX_GAPS gaps
        self.num_gaps = 0
        self.out_of_order = 0
        self.last_sequence: int | None = None
        self.first_sequence: int | None = None  # sequence number of the first sample of the current recording

    @property
    def done(self) -> bool:
        return len(self._obs) >= self.num_steps

    def __len__(self) -> int:
        return len(self._obs)

    def _restart(self) -> None:
        self._obs.clear()
        self._act.clear()
        self.first_sequence = None
        self.restarts += 1

    def _check_sequence(self, sequence: int) -> bool:
        """Track ``sequence``; False if the sample must be ignored (duplicate / backwards)."""
        last = self.last_sequence
        if last is not None and sequence <= last:
            self.out_of_order += 1
            return False
        self.last_sequence = sequence
        if last is not None and sequence != last + 1:
            self.gaps.append((last + 1, sequence))
            del self.gaps[:-MAX_GAPS]
            self.num_gaps += 1
            if self._obs:
                self._restart()
        return True

    def add(self, obs, action, sequence: int | None = None) -> bool:
        """Append one step (``sequence``: the tick counter, or None when unknown); returns :attr:`done`.

        Raises:
            ValueError: empty observation or action, or sizes that differ from the recording's first sample.
        """
        if self.done:
            return True
        obs, action = np.asarray(obs, np.float32).reshape(-1), np.asarray(action, np.float32).reshape(-1)
        if obs.size == 0 or action.size == 0:
            raise ValueError(f"empty sample: obs has {obs.size} values, action {action.size}; both must be non-empty")
        if self._obs and (obs.shape != self._obs[0].shape or action.shape != self._act[0].shape):
            raise ValueError(f"sample sizes changed mid-recording: obs {obs.size} vs {self._obs[0].size}, "
                             f"action {action.size} vs {self._act[0].size}")
        if sequence is not None and not self._check_sequence(int(sequence)):
            return False
        if not (np.all(np.isfinite(obs)) and np.all(np.isfinite(action))):
            self._restart()
            return False
        if not self._obs:
            self.first_sequence = None if sequence is None else int(sequence)
        self._obs.append(obs)
        self._act.append(action)
        return self.done

    def summary(self) -> str:
        """One line for logs and the saved prompt's ``source``: ticks recorded, gaps, out-of-order, restarts."""
        ticks = ""
        if self.first_sequence is not None and self._obs:
            ticks = f" ticks={self.first_sequence}..{self.first_sequence + len(self._obs) - 1}"
        return (f"steps={len(self._obs)}{ticks} gaps={self.num_gaps} out_of_order={self.out_of_order} "
                f"restarts={self.restarts}")

    def trajectory(self) -> Trajectory:
        """The recorded ``num_steps`` samples (``obs [T, o]``, ``act [T, a]``). Raises ValueError if incomplete."""
        if not self.done:
            raise ValueError(f"recording incomplete: {len(self._obs)} of {self.num_steps} steps")
        return Trajectory(obs=np.stack(self._obs), act=np.stack(self._act), success=None, dt=self.dt,
                          domain=self.domain, task=self.task)
