"""Issue 14: damping that cannot fail, faults instead of clipping, latched backend faults, dead/stalled threads,
the cmd_vel timeout in the control thread, staged policies and reset rules (ROS-free)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from maa_core.weights_io import WeightsError, WeightsPayload, checksum
from maa_deploy.backends.base import FaultLatch, ThreadHealth
from maa_deploy.backends.sim import SimBackend
from maa_deploy.loop import DeadlineLoop, DeployController, heading_of
from maa_deploy.policy_runner import Go2ObservationBuilder, PolicyRunner
from maa_deploy.safety import SafetyConfig, SafetyLayer
from maa_deploy.state_machine import Mode, StateMachine, StateMachineConfig, TransitionError
from maa_deploy.supervisor import Supervisor
from maa_go2.teleop import TeleopConfig, VelocityCommand
from tests.maa_deploy.deploy_fakes import (
    FakeClock,
    FakeTestBackend,
    adaptation_payload,
    random_actor,
    small_actor_layout,
)


def _walking_controller(backend, clock, actor=None, **kwargs):
    runner = PolicyRunner(small_actor_layout(), adaptation_payload())
    flat = random_actor(0) if actor is None else actor
    runner.load(WeightsPayload(runner.actor_layout, flat, checksum(flat), "test"))
    ctl = DeployController(backend, StateMachine(StateMachineConfig(stand_duration_s=0.1)),
                           SafetyLayer(SafetyConfig(state_timeout_s=0.04)), runner, Go2ObservationBuilder(),
                           clock=clock, **kwargs)
    ctl.request_mode("STAND")
    for _ in range(8):
        ctl.tick()
        clock.advance(0.02)
    ctl.request_mode("POLICY")
    ctl.tick()
    assert backend.commands[-1][0] == "cmd"
    return ctl


class _ScaledRunner(PolicyRunner):
    """Outputs ``scale`` times the real action from tick ``after`` on (a policy that diverges)."""

    def __init__(self, *args, scale=np.inf, after=3, **kwargs):
        super().__init__(*args, **kwargs)
        self.scale, self.after, self.n = scale, after, 0

    def act(self, obs):
        self.n += 1
        action = super().act(obs)
        return action * self.scale if self.n > self.after else action


@pytest.mark.parametrize("scale", [np.inf, -np.inf, np.nan, 1e4])
def test_non_finite_or_out_of_bound_action_faults_and_damps(backend, clock, scale):
    ctl = _walking_controller(backend, clock)
    runner = _ScaledRunner(small_actor_layout(), adaptation_payload(), scale=scale, after=2)
    runner.swap(ctl.runner.active)
    ctl.runner = runner
    for _ in range(6):
        clock.advance(0.02)
        ctl.tick()
    assert ctl.sm.mode == Mode.DAMPING and "action_bound" in ctl.sm.latched_reason
    kinds = [c[0] for c in backend.commands]
    first_damp = len(kinds) - kinds[::-1].index("cmd")  # after the last PD frame: damping only
    assert all(k == "damping" for k in kinds[first_damp:]) and len(kinds) - first_damp >= 3
    assert ctl.safety.counters["action_bound"] == 1


def test_backend_fault_latches_state_machine_and_reset_needs_rest(backend, clock):
    ctl = _walking_controller(backend, clock)
    backend.fault.latch("lowstate rejected (tick_frozen): test")
    clock.advance(0.02)
    ctl.tick()
    assert ctl.sm.mode == Mode.DAMPING and "backend: lowstate rejected" in ctl.sm.latched_reason
    assert backend.commands[-1] == ("damping",)
    backend.state.dq = np.full(12, 2.0)  # still falling: reset refused
    with pytest.raises(TransitionError, match="still moving"):
        ctl.reset()
    assert backend.fault.latched and ctl.sm.mode == Mode.DAMPING
    backend.state.dq = np.zeros(12)
    line = ctl.reset()
    assert "tick_frozen" in line and ctl.sm.mode == Mode.PASSIVE and not backend.fault.latched
    assert ctl.resets == [line]
    with pytest.raises(TransitionError, match="only leaves DAMPING"):
        ctl.reset()  # nothing to reset while walking/passive


def test_fatal_refuses_start_and_reset(backend, clock):
    ctl = _walking_controller(backend, clock)
    ctl.fatal = "control loop died: boom"
    ctl.sm.fault("fatal")
    for target in ("STAND", "POLICY"):
        with pytest.raises(TransitionError, match="deploy node is failing"):
            ctl.request_mode(target)
    with pytest.raises(TransitionError, match="restart it"):
        ctl.reset()


def test_cmd_vel_timeout_is_enforced_by_the_control_thread(backend, clock):
    """A stalled ROS executor delivers no cmd_vel and runs no timers; the tick itself zeroes the velocity."""
    velocity = VelocityCommand(TeleopConfig(timeout_s=0.2))
    ctl = _walking_controller(backend, clock, command_source=velocity.commands)
    velocity.set(0.8, 0.0, 0.5, time.monotonic())
    ctl.tick()
    np.testing.assert_allclose(ctl.obs_builder.commands[[0, 2]], [0.8, 0.5])
    time.sleep(0.25)  # nothing else runs: no executor, no timer
    ctl.tick()
    np.testing.assert_allclose(ctl.obs_builder.commands[:3], 0.0)
    assert velocity.timeouts == 1


def test_control_tick_feeds_the_measured_heading_to_heading_control(backend, clock):
    """Walking straight back, the tick passes the IMU heading: a drift of 0.1 rad is steered back; a bad
    orientation reading releases heading control instead of steering on it."""
    velocity = VelocityCommand(TeleopConfig(heading_gain=2.0))
    ctl = _walking_controller(backend, clock, command_source=velocity.commands)
    velocity.set(-0.8, 0.0, 0.0, time.monotonic())
    ctl.tick()  # latches heading 0
    backend.state.quat = np.array([np.cos(0.05), 0.0, 0.0, np.sin(0.05)])  # yawed +0.1 rad
    ctl.tick()
    np.testing.assert_allclose(ctl.obs_builder.commands[[0, 2]], [-0.8, -0.2])
    assert heading_of(backend.state) == pytest.approx(0.1)
    backend.state.quat = np.array([np.nan, 0.0, 0.0, 0.0])
    assert heading_of(backend.state) is None
    ctl.tick()
    assert ctl.obs_builder.commands[2] == 0.0


def test_supervisor_dead_control_loop_latches_damping_then_requests_exit(backend, clock):
    ctl = _walking_controller(backend, clock)
    calls = {"n": 0}

    def tick():
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("boom in tick")
        ctl.tick()

    loop = DeadlineLoop(tick, period=0.01, on_stop=backend.damping)
    fatal = []
    sup = Supervisor(loop, ctl, grace_s=0.2, period_s=0.01, on_fatal=fatal.append)
    loop.start()
    sup.start()
    try:
        deadline = time.monotonic() + 5
        while not sup.exit_requested.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        sup.stop()
        loop.stop()
    assert sup.exit_requested.is_set() and sup.fatal.startswith("control loop died: RuntimeError: boom in tick")
    assert fatal == [sup.fatal] and ctl.fatal == sup.fatal
    assert backend.fault.latched and ctl.sm.mode == Mode.DAMPING and backend.commands[-1] == ("damping",)
    with pytest.raises(TransitionError, match="failing"):
        ctl.request_mode("STAND")


def test_supervisor_detects_stalled_loop_and_dead_backend_thread(backend, clock):
    ctl = _walking_controller(backend, clock)
    stall = threading.Event()
    loop = DeadlineLoop(lambda: stall.wait(), period=0.01)  # the first tick never returns
    sup = Supervisor(loop, ctl, grace_s=0.0, stall_s=0.1, period_s=0.01)
    loop.start()
    try:
        for _ in range(40):
            sup.poll()
            time.sleep(0.01)
    finally:
        stall.set()
        loop.stop()
    assert sup.fatal.startswith("control loop stalled") and sup.exit_requested.is_set()

    backend2 = FakeTestBackend(FakeClock())
    backend2.threads = ThreadHealth()
    ctl2 = _walking_controller(backend2, backend2.clock)
    loop2 = DeadlineLoop(ctl2.tick, period=0.01)
    sup2 = Supervisor(loop2, ctl2, grace_s=10.0, period_s=0.01)
    backend2.threads.run_guarded("lowcmd-publisher", lambda: 1 / 0, backend2.latch_fault)
    sup2.poll()
    assert "lowcmd-publisher" in sup2.fatal and "ZeroDivisionError" in sup2.fatal
    assert backend2.fault.latched and not sup2.exit_requested.is_set()  # grace not over yet


def test_fault_latch_keeps_first_reason():
    latch = FaultLatch()
    assert latch.latch("first") and not latch.latch("second")
    assert latch.reason == "first" and latch.count == 2
    assert latch.clear() == "first" and not latch.latched


def test_sim_backend_latches_stale_command_and_refuses_until_cleared():
    sim = SimBackend(realtime=True, command_timeout_s=0.05)
    try:
        sim.write_command(sim.read_state().q, 20.0, 0.5)
        deadline = time.monotonic() + 3
        while not sim.fault.latched and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "command stale" in sim.fault.reason and not sim._cmd[1].any()
        sim.write_command(sim.read_state().q, 20.0, 0.5)  # the controller resumes: still damping
        assert not sim._cmd[1].any() and sim.counters["refused_while_latched"] == 1
        sim.clear_fault()
        sim.write_command(sim.read_state().q, 20.0, 0.5)
        assert sim._cmd[1].any()
        sim.write_command(np.full(12, np.nan), 20.0, 0.5)  # non-finite: latched damping, no exception
        assert "non-finite" in sim.fault.reason and not sim._cmd[1].any()
    finally:
        sim.close()


def test_sim_physics_thread_errors_are_counted_and_damped():
    sim = SimBackend(realtime=True)
    real_step, fails = sim._step, {"n": 0}

    def flaky(n):
        if fails["n"] < 3:
            fails["n"] += 1
            raise FloatingPointError("physics blew up")
        real_step(n)

    try:
        sim._step = flaky
        deadline = time.monotonic() + 3
        while fails["n"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        health = sim.health()
        assert health["threads"]["errors"]["sim-physics"] == 3 and health["threads"]["dead"] == []
        assert "physics blew up" in health["fault"] and sim._thread.is_alive()
    finally:
        sim.close()


def test_screening_on_recorded_observations_rejects_what_canned_ones_pass():
    """An actor that is fine on canned observations but saturates on the robot's real ones is refused."""
    layout = small_actor_layout()
    recorded = np.zeros((40, 70), np.float32)
    recorded[:, 5] = 50.0  # a feature the canned N(0, 0.5) observations never reach
    flat = random_actor(0, std=0.0)
    # first layer weight [32, 74] row-major: make unit 0 read feature 5 strongly; last layer maps it to action 0
    flat[5] = 3.0
    dims = layout.dims
    first, second = dims[0] * dims[1] + dims[1], dims[1] * dims[2] + dims[2]
    flat[first + 0] = 1.0  # layer 2 weight [16, 32]: unit 0 <- unit 0
    flat[first + second + 0] = 1.0  # layer 3 weight [12, 16]: action 0 <- unit 0
    payload = WeightsPayload(layout, flat, checksum(flat), "saturating")
    canned = PolicyRunner(layout, adaptation_payload(), max_screen_action=10.0)
    assert canned.prepare(payload).screen_max_abs_action < 10.0
    real = PolicyRunner(layout, adaptation_payload(), max_screen_action=10.0, screen_observations=recorded)
    assert real.num_screen_observations == canned.num_screen_observations + 40
    with pytest.raises(WeightsError, match="action screen failed"):
        real.prepare(payload)
    with pytest.raises(WeightsError, match=r"shape \[T >= 1, 70\]"):
        PolicyRunner(layout, adaptation_payload(), screen_observations=np.zeros((3, 69)))


def test_staged_policy_runs_only_after_activation():
    runner = PolicyRunner(small_actor_layout(), adaptation_payload())
    flat = random_actor(1)
    runner.load(WeightsPayload(runner.actor_layout, flat, checksum(flat), "staged"), stage=True)
    assert runner.active is None and runner.staged.source == "staged"
    policy = runner.activate_staged()
    assert runner.active is policy and runner.staged is None
    with pytest.raises(WeightsError, match="no staged policy"):
        runner.activate_staged()
    refused = []

    def refuse(source):
        refused.append(source)
        raise ValueError("unsigned weights")

    with pytest.raises(ValueError, match="unsigned"):
        runner.load(WeightsPayload(runner.actor_layout, flat, checksum(flat), "bad"), check=refuse)
    assert runner.active is policy and runner.last_error == "unsigned weights" and len(refused) == 1
