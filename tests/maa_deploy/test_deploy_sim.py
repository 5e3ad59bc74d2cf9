import time

import numpy as np
import pytest

from maa_core.weights_io import WeightsPayload, checksum
from maa_deploy.backends import make_backend
from maa_deploy.loop import DeployController
from maa_deploy.policy_runner import Go2ObservationBuilder, PolicyRunner
from maa_deploy.safety import SafetyConfig, SafetyLayer
from maa_deploy.state_machine import Mode, StateMachine, StateMachineConfig
from tests.maa_deploy.deploy_fakes import adaptation_payload, random_actor, small_actor_layout


def _controller(backend, actor_std=0.05):
    runner = PolicyRunner(small_actor_layout(), adaptation_payload())
    flat = random_actor(0, std=actor_std)
    runner.load(WeightsPayload(runner.actor_layout, flat, checksum(flat), "test"))
    return DeployController(backend, StateMachine(StateMachineConfig(stand_duration_s=1.0)),
                            SafetyLayer(SafetyConfig(max_roll=0.5, max_pitch=0.5)), runner, Go2ObservationBuilder(),
                            clock=backend.clock)


def test_stand_up_from_lying_then_damp_down():
    sim = make_backend("sim", init_height=0.12, init_q=np.tile([0.0, 1.2, -2.6], 4))
    for _ in range(25):
        sim.damping()
    lying = sim.base_height
    ctl = _controller(sim)
    ctl.request_mode("STAND")
    first = None
    for _ in range(75):
        ctl.tick()
        first = first if first is not None else sim.read_state().q
    assert lying < 0.1 and sim.base_height > 0.25
    ctl.request_mode("POLICY")
    for _ in range(50):
        ctl.tick()
    assert ctl.sm.mode in (Mode.POLICY, Mode.DAMPING)
    ctl.estop()
    for _ in range(50):
        ctl.tick()
    assert sim.base_height < 0.15
    sim.close()


def test_attitude_fault_when_robot_tips_over():
    sim = make_backend("sim")
    ctl = _controller(sim)
    ctl.request_mode("STAND")
    for _ in range(60):
        ctl.tick()
    assert ctl.sm.mode == Mode.STAND
    sim.data.qpos[3:7] = [np.cos(0.35), np.sin(0.35), 0.0, 0.0]  # the base rolled by 0.7 rad (limit 0.5)
    ctl.tick()
    assert ctl.sm.mode == Mode.DAMPING and ctl.safety.counters["attitude"] == 1


def test_realtime_sim_damps_when_commands_stop():
    sim = make_backend("sim", realtime=True, command_timeout_s=0.05)
    try:
        sim.write_command(sim.read_state().q, 20.0, 0.5)
        deadline = time.monotonic() + 2.0
        while sim.counters["damping_stale_command"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sim.counters["damping_stale_command"] == 1 and not sim._cmd[1].any()
        assert sim.steps > 0
    finally:
        sim.close()


def test_realtime_sim_pauses_with_a_stalled_process_instead_of_latching():
    """A stall of the whole process (here: the physics thread held off for 80 ms, beyond the 50 ms command timeout)
    must not advance simulated time in a burst on wake-up: a controller stalled just as long cannot answer during
    the burst, and the command watchdog latched damping (seen in ``make demo`` on a busy 2-core machine)."""
    sim = make_backend("sim", realtime=True, command_timeout_s=0.05)
    try:
        q = sim.read_state().q
        sim.write_command(q, 20.0, 0.5)
        time.sleep(0.05)
        with sim._lock:  # the physics thread blocks here, as in a process-wide stall
            time.sleep(0.08)
            sim._cmd_steps = 0  # the controller's command of the moment it wakes
        for _ in range(10):  # then the controller keeps its 50 Hz rhythm
            time.sleep(0.02)
            sim.write_command(q, 20.0, 0.5)
        assert sim.counters["damping_stale_command"] == 0 and not sim.fault.latched
        assert sim.counters["physics_resyncs"] >= 1
        assert sim._cmd[1].any()  # still on the controller's command, not damping
    finally:
        sim.close()


def test_projected_gravity_matches_engine_rotation():
    from maa_deploy.policy_runner import projected_gravity
    from maa_go2.engines.mujoco_engine import quat_to_rot

    quats = np.random.default_rng(0).normal(size=(20, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    expected = np.einsum("nji,j->ni", quat_to_rot(quats), np.array([0.0, 0.0, -1.0]))  # R^T g
    got = np.stack([projected_gravity(q) for q in quats])
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_base_pose_is_the_simulated_base():
    sim = make_backend("sim", init_height=0.3)
    for _ in range(5):
        sim.damping()
    pose = sim.base_pose()
    assert pose.shape == (7,) and pose[2] > 0.1
    np.testing.assert_array_equal(pose, sim.data.qpos[0:7])
    pose[0] = 99.0  # a copy: the simulation is untouched
    assert sim.data.qpos[0] != 99.0
    sim.close()


def test_sim_viewer_needs_a_desktop_and_says_so(monkeypatch):
    from maa_generator.media import ViewerUnavailable

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ViewerUnavailable, match=r"deploy.sim_viewer.*needs a desktop"):
        make_backend("sim", realtime=True, viewer=True)


def test_sim_viewer_option_parsing():
    from maa_core.config import ConfigError
    from maa_deploy.loop import DeployConfig

    assert DeployConfig().sim_viewer is False
    assert DeployConfig.from_mapping({"sim_viewer": True}).sim_viewer is True
    with pytest.raises(ConfigError, match="sim_viewer"):
        DeployConfig.from_mapping({"backend": "unitree", "sim_viewer": True})
