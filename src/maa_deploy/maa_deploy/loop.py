"""The 50 Hz control loop: absolute-deadline pacing (:class:`DeadlineLoop`) and one tick of deploy logic
(:class:`DeployController`: backend -> state machine -> policy -> safety -> backend).

Pacing: tick ``k`` is due at ``start + k * period`` (monotonic clock), never at "last wake + period", so timing errors
do not accumulate. The wait is an absolute-deadline sleep that a stop request interrupts at once. A tick that
overruns makes the loop skip the deadlines already past (counted in ``missed``) and resume on the grid.
On stop *or* exception, ``on_stop`` (the backend's damping) runs before :meth:`DeadlineLoop.run` returns/raises.

A ROS node only has to create a :class:`DeployController`, run it in a :class:`DeadlineLoop` thread, and map
topics/services to :meth:`DeployController.request_mode`, :meth:`DeployController.estop`,
``controller.runner.load_async(...)`` and :meth:`DeployController.diagnostics`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from .backends.base import Backend
from .policy_runner import ObservationBuilder, PolicyRunner
from .safety import SafetyLayer
from .state_machine import Mode, StateMachine, TransitionError


class LoopStats:
    """Per-tick timing samples (ring buffers of ``capacity``) and counters. Times in seconds."""

    def __init__(self, capacity: int = 1 << 17):
        self.capacity = capacity
        self.compute = np.zeros(capacity)
        self.jitter = np.zeros(capacity)
        self.ticks = 0
        self.missed = 0

    def record(self, compute_s: float, jitter_s: float) -> None:
        i = self.ticks % self.capacity
        self.compute[i], self.jitter[i] = compute_s, jitter_s
        self.ticks += 1

    def summary(self) -> dict:
        """``{ticks, missed, compute_ms_p50/p99/max, jitter_ms_p50/p99/max}`` over the stored samples."""
        n = min(self.ticks, self.capacity)
        out = {"ticks": self.ticks, "missed": self.missed}
        for name, arr in (("compute", self.compute[:n]), ("jitter", self.jitter[:n])):
            for tag, q in (("p50", 50), ("p99", 99), ("max", 100)):
                out[f"{name}_ms_{tag}"] = float(np.percentile(arr, q) * 1e3) if n else float("nan")
        return out


class DeadlineLoop:
    """Run ``tick()`` every ``period`` seconds against absolute deadlines.

    Args:
        tick: the work of one period (no arguments).
        period: seconds (0.02 = 50 Hz).
        on_stop: called once when the loop ends, normally or by exception (e.g. ``backend.damping``).
        clock: monotonic clock in seconds.
    """

    def __init__(self, tick: Callable[[], None], period: float = 0.02, on_stop: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if period <= 0:
            raise ValueError(f"period must be > 0 s, got {period}")
        self.tick, self.period, self.on_stop, self.clock = tick, period, on_stop, clock
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.start_time: float | None = None

    def run(self, duration: float | None = None, max_ticks: int | None = None) -> LoopStats:
        """Block until :meth:`stop`, ``duration`` seconds or ``max_ticks`` ticks; returns the stats."""
        self._stop.clear()
        t0 = self.start_time = self.clock()
        k = 0
        try:
            while not self._stop.is_set():
                if (max_ticks is not None and k >= max_ticks) or (duration is not None and k * self.period >= duration):
                    break
                deadline = t0 + k * self.period
                remaining = deadline - self.clock()
                if remaining > 0 and self._stop.wait(remaining):
                    break
                wake = self.clock()
                self.tick()
                done = self.clock()
                self.stats.record(done - wake, wake - deadline)
                k += 1
                late = done - (t0 + k * self.period)
                if late > 0:  # the next deadline(s) already passed: skip them, stay on the grid
                    skipped = int(late // self.period) + 1
                    self.stats.missed += skipped
                    k += skipped
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            if self.on_stop is not None:
                self.on_stop()
        return self.stats

    def start(self, **run_kwargs) -> threading.Thread:
        """Run in a daemon thread (exceptions are kept in :attr:`error`)."""

        def target():
            try:
                self.run(**run_kwargs)
            except BaseException:  # noqa: BLE001 - stored for the owner; damping already commanded
                pass

        self._thread = threading.Thread(target=target, name="control-loop", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, join: bool = True, timeout: float = 2.0) -> None:
        """Ask the loop to end (interrupts the wait) and optionally wait for it."""
        self._stop.set()
        if join and self._thread is not None:
            self._thread.join(timeout)


class DeployController:
    """One control tick of the deploy stack.

    Args:
        backend: robot or simulator.
        state_machine: mode logic (PASSIVE/STAND/POLICY/DAMPING).
        safety: command filter; its faults latch DAMPING.
        runner: policy runner (needed for POLICY).
        obs_builder: observation builder (needed for POLICY).
        clock: must be the clock of ``RobotState.stamp`` (monotonic seconds).
    """

    def __init__(self, backend: Backend, state_machine: StateMachine, safety: SafetyLayer,
                 runner: PolicyRunner | None = None, obs_builder: ObservationBuilder | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.backend, self.sm, self.safety = backend, state_machine, safety
        self.runner, self.obs_builder, self.clock = runner, obs_builder, clock
        self.last_action = np.zeros(12)
        self._prev_mode = state_machine.mode
        self.last_mode_sent: Mode | None = None

    # ---------------------------------------------------------------- requests
    def request_mode(self, target: Mode | str) -> None:
        """Operator request; raises :class:`TransitionError` with the reason when refused."""
        target = Mode(target)
        if target == Mode.POLICY and (self.runner is None or self.runner.active is None or self.obs_builder is None):
            raise TransitionError("POLICY refused: no policy loaded (publish generated weights first)")
        self.sm.request(target, now=self.clock())

    def estop(self, reason: str = "operator e-stop") -> None:
        self.sm.estop(reason)

    def reset(self) -> None:
        self.sm.reset()

    # -------------------------------------------------------------------- tick
    def _on_mode_change(self, mode: Mode) -> None:
        self.safety.reset()
        if mode == Mode.POLICY:
            self.last_action = np.zeros(12)
            self.runner.reset_history()
            self.obs_builder.reset()

    def _policy_targets(self, state) -> np.ndarray:
        obs = self.obs_builder.build(state, self.last_action)
        action = self.safety.clip_action(self.runner.act(obs))
        self.last_action = action
        return self.runner.action_to_q_des(action)

    def tick(self) -> None:
        """Read state, compute the mode's command, filter it, send it (damping on any fault)."""
        state = self.backend.read_state()
        now = self.clock()
        mode = self.sm.mode
        if mode != self._prev_mode:
            self._on_mode_change(mode)
            self._prev_mode = mode
        policy_q = None
        if mode == Mode.POLICY:
            try:
                policy_q = self._policy_targets(state)
            except (ValueError, FloatingPointError) as exc:  # NaN observation (e.g. corrupted state)
                self.safety.counters["nan"] += 1
                self.sm.fault(f"nan: policy step failed ({exc})")
        cmd = self.sm.command(state.q, now, policy_q, mode=mode)
        if not cmd.is_damping:
            result = self.safety.filter(cmd.q_des, cmd.kp, cmd.kd, state, now)
            if result.fault is not None:
                self.sm.fault(f"{result.fault}: {result.detail}")
                cmd = self.sm.damping_command(state.q)
            else:
                cmd.q_des = result.q_des
        if cmd.is_damping:
            self.backend.damping()
        else:
            self.backend.write_command(cmd.q_des, cmd.kp, cmd.kd, cmd.tau_ff)
        self.last_mode_sent = cmd.mode if not cmd.is_damping else Mode.DAMPING

    def diagnostics(self) -> dict:
        """Mode, latch reason, safety counters, policy info (for a diagnostics topic)."""
        policy = self.runner.active if self.runner else None
        return {"mode": self.sm.mode.value, "latched_reason": self.sm.latched_reason, "safety": self.safety.report(),
                "policy": None if policy is None else {"source": policy.source, "checksum": policy.checksum[:16]},
                "policy_swaps": self.runner.swaps if self.runner else 0,
                "policy_last_error": self.runner.last_error if self.runner else None}
