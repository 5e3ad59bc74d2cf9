"""The 50 Hz control loop: absolute-deadline pacing (:class:`DeadlineLoop`) and one tick of deploy logic
(:class:`DeployController`: backend -> state machine -> policy -> safety -> backend).

Pacing: tick ``k`` is due at ``start + k * period`` (monotonic clock), never at "last wake + period", so timing errors
do not accumulate. The wait is an absolute-deadline sleep that a stop request interrupts at once. A tick that
overruns makes the loop skip the deadlines already past (counted in ``missed``) and resume on the grid.
On stop *or* exception, ``on_stop`` (the backend's damping) runs before :meth:`DeadlineLoop.run` returns/raises.

A ROS node only has to build the stack (:func:`build_stack` from a :class:`DeployConfig`), start the
:class:`DeadlineLoop` thread, and map topics/services to :meth:`DeployController.request_mode`,
:meth:`DeployController.estop`, ``controller.runner.load_async(...)`` and :meth:`DeployController.diagnostics`.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maa_core.config import ConfigError, dataclass_from_mapping, load_yaml_mapping
from maa_core.layout import PolicyLayout
from maa_core.rotations import yaw_of
from maa_core.weights_io import load_weights_file
from maa_deploy.backends import make_backend
from maa_deploy.backends.base import Backend
from maa_deploy.backends.unitree import UnitreeConfig
from maa_deploy.policy_runner import Go2ObservationBuilder, ObservationBuilder, PolicyRunner
from maa_deploy.realtime import check_priority, request_realtime
from maa_deploy.safety import SafetyConfig, SafetyLayer
from maa_deploy.state_machine import Mode, StateMachine, StateMachineConfig, TransitionError
from maa_go2.checkpoints import read_adaptation


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
        wait: ``wait(seconds) -> stop_requested`` sleeping until the deadline (default: the stop event's wait,
            an absolute-deadline condition wait on the monotonic clock that :meth:`stop` interrupts). Tests
            inject a simulated clock and wait.
        gil_switch_interval: if set, lower ``sys.setswitchinterval`` to this (s) when the loop runs, so a woken
            control thread waits at most this long for the GIL held by another thread (e.g. the policy loader);
            Python's default is 5 ms, a quarter of a 50 Hz period. Never raised; None leaves it alone.
        rt_priority: ``SCHED_FIFO`` priority requested for the loop thread (:mod:`maa_deploy.realtime`; 0 = off).
            The outcome is in :attr:`scheduling` once the loop runs.
    """

    def __init__(self, tick: Callable[[], None], period: float = 0.02, on_stop: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, wait: Callable[[float], bool] | None = None,
                 gil_switch_interval: float | None = 0.001, rt_priority: int = 0):
        if period <= 0:
            raise ValueError(f"period must be > 0 s, got {period}")
        self.rt_priority = check_priority(rt_priority, "rt_priority")  # here, not in the loop thread
        self.scheduling = "not started"
        self.tick, self.period, self.on_stop, self.clock = tick, period, on_stop, clock
        self.gil_switch_interval = gil_switch_interval
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.start_time: float | None = None

    def run(self, duration: float | None = None, max_ticks: int | None = None) -> LoopStats:
        """Block until :meth:`stop`, ``duration`` seconds or ``max_ticks`` ticks; returns the stats."""
        self._stop.clear()
        if self.gil_switch_interval is not None and sys.getswitchinterval() > self.gil_switch_interval:
            sys.setswitchinterval(self.gil_switch_interval)
        self.scheduling = request_realtime(self.rt_priority)
        t0 = self.start_time = self.clock()
        k = 0
        try:
            while not self._stop.is_set():
                if (max_ticks is not None and k >= max_ticks) or (duration is not None and k * self.period >= duration):
                    break
                deadline = t0 + k * self.period
                remaining = deadline - self.clock()
                if remaining > 0 and (self._wait(remaining) or self._stop.is_set()):
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

    @property
    def started(self) -> bool:
        """True once :meth:`start` launched the loop thread."""
        return self._thread is not None

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def is_running(self) -> bool:
        """The loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, **run_kwargs) -> threading.Thread:
        """Run in a daemon thread (exceptions are kept in :attr:`error`; a :class:`~maa_deploy.supervisor.Supervisor`
        turns them into latched damping and a process exit)."""

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


def heading_of(state) -> float | None:
    """The base's heading [rad] (yaw about world z) from ``state.quat`` (w, x, y, z); None when it is missing or
    not finite, so heading control lets go instead of steering on a bad reading."""
    quat = getattr(state, "quat", None)
    if quat is None:
        return None
    quat = np.asarray(quat, dtype=np.float64)
    if quat.shape != (4,) or not np.all(np.isfinite(quat)) or not np.linalg.norm(quat) > 0.5:
        return None
    return float(yaw_of(quat))


class DeployController:
    """One control tick of the deploy stack.

    Args:
        backend: robot or simulator.
        state_machine: mode logic (PASSIVE/STAND/POLICY/DAMPING).
        safety: command filter; its faults latch DAMPING.
        runner: policy runner (needed for POLICY).
        obs_builder: observation builder (needed for POLICY).
        clock: must be the clock of ``RobotState.stamp`` (monotonic seconds).
        command_source: ``(now, heading) -> [15]`` walk-these-ways command vector, read *by the control thread*
            every tick (e.g. ``VelocityCommand.commands``, which zeroes velocities after its timeout): a stalled ROS
            executor cannot leave a stale velocity command in force. ``heading`` [rad] is the base's measured yaw
            (None when the state has none), for heading control.
        reset_max_joint_speed: ``reset`` is refused unless every |dq| is below this (rad/s): the robot has come to
            rest in damping.
    """

    def __init__(self, backend: Backend, state_machine: StateMachine, safety: SafetyLayer,
                 runner: PolicyRunner | None = None, obs_builder: ObservationBuilder | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 command_source: Callable[[float], np.ndarray] | None = None, reset_max_joint_speed: float = 0.5):
        self.backend, self.sm, self.safety = backend, state_machine, safety
        self.runner, self.obs_builder, self.clock = runner, obs_builder, clock
        self.command_source = command_source
        self.reset_max_joint_speed = reset_max_joint_speed
        self.last_action = np.zeros(12)
        self.last_obs: np.ndarray | None = None
        self._prev_mode = state_machine.mode
        self.last_mode_sent: Mode | None = None
        #: set by the supervisor when a thread of the deploy path died: nothing but damping from then on
        self.fatal: str | None = None
        #: (mode requested, outcome) log of operator actions that clear latches
        self.resets: list[str] = []

    # ---------------------------------------------------------------- requests
    def request_mode(self, target: Mode | str) -> None:
        """Operator request; raises :class:`TransitionError` with the reason when refused."""
        target = Mode(target)
        if self.fatal is not None and target != Mode.DAMPING:
            raise TransitionError(f"{target.value} refused: the deploy node is failing ({self.fatal}); "
                                  "it stays in damping and exits for a restart")
        if target == Mode.POLICY and (self.runner is None or self.runner.active is None or self.obs_builder is None):
            raise TransitionError("POLICY refused: no policy loaded (publish generated weights first)")
        self.sm.request(target, now=self.clock())

    def estop(self, reason: str = "operator e-stop") -> None:
        self.sm.estop(reason)

    def reset(self) -> str:
        """Operator action: leave a latched DAMPING (and the backend's latched fault) to PASSIVE.

        Refused unless the state machine is in DAMPING, the deploy path is healthy (no dead thread), the remote
        e-stop is released, and the robot is at rest (every |dq| < ``reset_max_joint_speed``).
        Returns a log line saying what was cleared.
        """
        if self.fatal is not None:
            raise TransitionError(f"reset refused: the deploy node is failing ({self.fatal}); restart it")
        if self.sm.mode != Mode.DAMPING:
            raise TransitionError(f"reset only leaves DAMPING; current mode is {self.sm.mode.value}")
        state = self.backend.read_state()
        speed = float(np.max(np.abs(state.dq))) if state is not None and np.all(np.isfinite(state.dq)) else np.inf
        if not speed < self.reset_max_joint_speed:
            raise TransitionError(f"reset refused: the robot is still moving (max |dq| {speed:.2f} rad/s, needs < "
                                  f"{self.reset_max_joint_speed:g}); wait until it rests in damping")
        backend_reason = self.backend.clear_fault()
        latched = self.sm.latched_reason
        self.sm.reset()
        line = f"reset: cleared DAMPING latched by '{latched}'" + (
            f" and backend fault '{backend_reason}'" if backend_reason else "")
        self.resets.append(line)
        return line

    # -------------------------------------------------------------------- tick
    def _on_mode_change(self, mode: Mode) -> None:
        self.safety.reset()
        if mode == Mode.POLICY:
            self.last_action = np.zeros(12)
            self.runner.reset_history()
            self.obs_builder.reset()

    def _policy_targets(self, state) -> np.ndarray | None:
        """Joint targets ``[12]`` from the policy, or None after latching a fault (non-finite / out-of-bound)."""
        obs = self.obs_builder.build(state, self.last_action)
        self.last_obs = obs
        action = np.asarray(self.runner.act(obs), dtype=np.float64)
        fault = self.safety.check_action(action)
        if fault is not None:
            self.sm.fault(f"{fault[0]}: {fault[1]}")
            return None
        self.last_action = action
        return self.runner.action_to_q_des(action)

    def tick(self) -> None:
        """Read state, compute the mode's command, filter it, send it (damping on any fault)."""
        now = self.clock()
        backend_fault = self.backend.fault.reason
        if backend_fault is not None:
            self.sm.fault(f"backend: {backend_fault}")
        state = self.backend.read_state()
        if self.command_source is not None and self.obs_builder is not None:
            self.obs_builder.set_commands(self.command_source(time.monotonic(), heading_of(state)))
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
            if policy_q is None:
                mode = Mode.DAMPING
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
        """Mode, latch reason, safety counters, policy info, backend health (for a diagnostics topic)."""
        policy = self.runner.active if self.runner else None
        staged = self.runner.staged if self.runner else None
        return {"mode": self.sm.mode.value, "latched_reason": self.sm.latched_reason, "fatal": self.fatal,
                "safety": self.safety.report(), "backend": self.backend.health(),
                "policy": None if policy is None else {"source": policy.source, "checksum": policy.checksum[:16]},
                "staged_policy": None if staged is None else {"source": staged.source,
                                                              "checksum": staged.checksum[:16]},
                "policy_swaps": self.runner.swaps if self.runner else 0,
                "policy_last_error": self.runner.last_error if self.runner else None}


# --------------------------------------------------------------------------- assembly for nodes / scripts
@dataclass
class DeployConfig:
    """Everything the deploy stack needs; YAML section ``deploy`` (unknown keys rejected).

    ``adaptation_path``: the pretrained adaptation module (``maa_go2.checkpoints.save_adaptation`` output or a
    weights file). ``reference_actor_path``: an actor file whose layout every generated actor must match (e.g. the
    PPO actor trained with that adaptation module); empty = ``maa_go2.actor_critic.go2_actor_layout`` (needs torch).
    ``initial_policy_path``: optional actor to load at start (empty = wait for generated weights).
    ``screen_prompt_path``: a recorded prompt (``maa_core.prompt_io`` file) whose observations every new actor
    is also run on before it may drive the robot (empty = the zero observation and 15 canned ones only).
    ``reset_max_joint_speed``: ``~/reset`` leaves a latched DAMPING only when every |dq| is below this, rad/s.
    ``rt_priority``: ``SCHED_FIFO`` priority of the control thread and of the simulated robot's physics thread
    (0 = normal scheduling, the default for library use; the node configs ``config/go2_*.yaml`` set 80; refused
    requests fall back and are reported, see :mod:`maa_deploy.realtime`).
    ``sim_command_timeout_s``: the simulated robot's command watchdog (s): with no new joint target for this long it
    latches damping, as the real Go2 path does after 50 ms (the default). ``config/go2_sim.yaml`` allows 0.1 s: the
    simulated robot's physics thread runs in the deploy process on the same (possibly shared, virtual) CPUs as the
    controller, and host stalls of 40-70 ms were measured there with nothing else running.
    ``sim_viewer``: with the ``sim`` backend, open MuJoCo's interactive viewer on the simulated robot (a desktop is
    needed; configure fails with the reason otherwise); refreshed at 30 Hz from its own thread, never in the loop.
    """

    backend: str = "sim"  # "sim" | "unitree"
    rate_hz: float = 50.0
    adaptation_path: str = ""
    reference_actor_path: str = ""
    initial_policy_path: str = ""
    screen_prompt_path: str = ""
    max_screen_action: float = 10.0
    reset_max_joint_speed: float = 0.5
    sim_realtime: bool = True
    sim_command_timeout_s: float = 0.05
    sim_viewer: bool = False
    rt_priority: int = 0
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    state_machine: StateMachineConfig = field(default_factory=StateMachineConfig)
    unitree: UnitreeConfig = field(default_factory=UnitreeConfig)

    def __post_init__(self) -> None:
        if self.backend not in ("sim", "unitree"):
            raise ConfigError(f"deploy.backend must be 'sim' or 'unitree', got {self.backend!r}")
        if not self.rate_hz > 0:
            raise ConfigError(f"deploy.rate_hz must be > 0, got {self.rate_hz}")
        if not self.reset_max_joint_speed > 0:
            raise ConfigError(f"deploy.reset_max_joint_speed must be > 0 rad/s, got {self.reset_max_joint_speed}")
        if not self.sim_command_timeout_s > 0:
            raise ConfigError(f"deploy.sim_command_timeout_s must be > 0 s, got {self.sim_command_timeout_s}")
        if self.sim_viewer and self.backend != "sim":
            raise ConfigError("deploy.sim_viewer shows the simulated robot: it needs deploy.backend 'sim', got "
                              f"{self.backend!r}")
        try:
            check_priority(self.rt_priority, "deploy.rt_priority")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @classmethod
    def from_mapping(cls, data: Mapping | None) -> DeployConfig:
        return dataclass_from_mapping(cls, data, "deploy")

    @classmethod
    def from_yaml(cls, path: str | Path, section: str | None = "deploy") -> DeployConfig:
        return cls.from_mapping(load_yaml_mapping(path, section))


def expected_actor_layout(cfg: DeployConfig) -> PolicyLayout:
    """The actor layout generated weights must have (see :class:`DeployConfig`)."""
    if cfg.reference_actor_path:
        return load_weights_file(cfg.reference_actor_path).layout
    from maa_go2.actor_critic import go2_actor_layout  # imports torch

    return go2_actor_layout()


def build_stack(cfg: DeployConfig, backend: Backend | None = None) -> tuple[DeployController, DeadlineLoop]:
    """Create backend (unless given), runner, state machine, safety, controller and the (not started) loop.

    The loop's ``on_stop`` commands damping. A node then only calls ``loop.start()`` and maps its interfaces to
    ``controller.request_mode/estop/reset``, ``controller.runner.load_async`` and ``controller.diagnostics``.
    """
    if not cfg.adaptation_path:
        raise ConfigError("deploy.adaptation_path is required (the pretrained adaptation module)")
    adaptation = read_adaptation(cfg.adaptation_path)
    screen_obs = None
    if cfg.screen_prompt_path:
        from maa_core.prompt_io import load_prompt

        screen_obs = load_prompt(cfg.screen_prompt_path).obs
    runner = PolicyRunner(expected_actor_layout(cfg), adaptation, max_screen_action=cfg.max_screen_action,
                          screen_observations=screen_obs)
    if cfg.initial_policy_path:
        runner.load(cfg.initial_policy_path)
    if backend is None:
        backend = (make_backend("sim", realtime=cfg.sim_realtime, damping_kd=cfg.state_machine.damping_kd,
                                command_timeout_s=cfg.sim_command_timeout_s, rt_priority=cfg.rt_priority,
                                viewer=cfg.sim_viewer)
                   if cfg.backend == "sim" else make_backend("unitree", config=cfg.unitree))
    clock = getattr(backend, "clock", time.monotonic)
    controller = DeployController(backend, StateMachine(cfg.state_machine), SafetyLayer(cfg.safety), runner,
                                  Go2ObservationBuilder(dt=1.0 / cfg.rate_hz), clock=clock,
                                  reset_max_joint_speed=cfg.reset_max_joint_speed)
    loop = DeadlineLoop(controller.tick, period=1.0 / cfg.rate_hz, on_stop=backend.damping,
                        rt_priority=cfg.rt_priority)
    return controller, loop
