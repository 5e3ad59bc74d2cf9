import threading

import numpy as np
import pytest

from maa_core.weights_io import WeightsPayload, checksum
from maa_deploy.loop import DeadlineLoop, DeployController
from maa_deploy.policy_runner import Go2ObservationBuilder, PolicyRunner
from maa_deploy.safety import SafetyConfig, SafetyLayer
from maa_deploy.state_machine import Mode, StateMachine, StateMachineConfig, TransitionError
from maa_go2.control import DEFAULT_JOINT_POS
from tests.maa_deploy.deploy_fakes import adaptation_payload, random_actor, small_actor_layout


class SimTime:
    """Simulated clock + wait: every wake-up is 0.3 ms late and every tick costs ``cost`` seconds."""

    def __init__(self, cost=0.004, wake_latency=0.0003):
        self.t, self.cost, self.latency = 50.0, cost, wake_latency
        self.wakes = []

    def clock(self):
        return self.t

    def wait(self, seconds):
        self.t += seconds + self.latency
        return False

    def tick(self):
        self.wakes.append(self.t)
        self.t += self.cost


def test_deadline_grid_does_not_drift():
    sim = SimTime()
    loop = DeadlineLoop(sim.tick, period=0.02, clock=sim.clock, wait=sim.wait)
    stats = loop.run(max_ticks=500)
    offsets = np.array(sim.wakes) - 50.0 - 0.02 * np.arange(500)
    assert offsets[0] == 0.0  # tick 0 is due immediately
    np.testing.assert_allclose(offsets[1:], 0.0003, atol=1e-9)  # a sleep(dt) loop would be 499 * 4.3 ms behind
    assert stats.ticks == 500 and stats.missed == 0
    assert stats.summary()["jitter_ms_max"] == pytest.approx(0.3)


def test_overrun_skips_deadlines_and_counts_them():
    sim = SimTime()
    costs = iter([0.004, 0.045] + [0.004] * 10)

    def tick():
        sim.wakes.append(sim.t)
        sim.t += next(costs)

    loop = DeadlineLoop(tick, period=0.02, clock=sim.clock, wait=sim.wait)
    stats = loop.run(max_ticks=6)
    # tick 1 ran from 20.3 ms to 65.3 ms: deadlines 40 and 60 ms are missed, the next tick is due at 80 ms
    assert stats.missed == 2
    assert sim.wakes[2] - 50.0 == pytest.approx(0.0803)


def test_real_time_run_about_one_second():
    ticks = []
    loop = DeadlineLoop(lambda: ticks.append(1), period=0.02)
    stats = loop.run(duration=1.0)
    assert stats.ticks + stats.missed == 50 and len(ticks) == stats.ticks
    assert np.isfinite(stats.summary()["compute_ms_p99"])


def test_stop_and_exception_command_damping(backend):
    loop = DeadlineLoop(lambda: None, period=0.01, on_stop=backend.damping)
    thread = loop.start()
    loop.stop()
    assert not thread.is_alive() and backend.damping_calls == 1

    def boom():
        raise RuntimeError("policy exploded")

    loop = DeadlineLoop(boom, period=0.01, on_stop=backend.damping)
    with pytest.raises(RuntimeError, match="exploded"):
        loop.run(max_ticks=3)
    assert backend.damping_calls == 2 and backend.commands[-1] == ("damping",)


def _controller(backend, clock, timeout=0.04):
    runner = PolicyRunner(small_actor_layout(), adaptation_payload())
    flat = random_actor(0)
    runner.load(WeightsPayload(runner.actor_layout, flat, checksum(flat), "test"))
    return DeployController(backend, StateMachine(StateMachineConfig(stand_duration_s=0.1)),
                            SafetyLayer(SafetyConfig(state_timeout_s=timeout)), runner, Go2ObservationBuilder(),
                            clock=clock)


def test_controller_stand_policy_and_stale_state_damps(backend, clock):
    backend.state.q = DEFAULT_JOINT_POS + 0.2
    ctl = _controller(backend, clock)
    ctl.tick()
    assert backend.commands[-1] == ("damping",)
    with pytest.raises(TransitionError, match="PASSIVE -> POLICY"):
        ctl.request_mode("POLICY")
    ctl.request_mode("STAND")
    for _ in range(10):
        ctl.tick()
        clock.advance(0.02)
    kind, q_des, kp, _ = backend.commands[-1]
    assert kind == "cmd" and np.all(kp == ctl.sm.config.stand_kp)
    ctl.request_mode("POLICY")
    ctl.tick()
    assert backend.commands[-1][0] == "cmd" and np.all(backend.commands[-1][2] == ctl.sm.config.policy_kp)
    # lowstate stops arriving: within timeout + one tick the controller damps and latches
    backend.frozen = True
    for _ in range(3):
        clock.advance(0.02)
        ctl.tick()
    assert backend.commands[-1] == ("damping",) and ctl.sm.mode == Mode.DAMPING
    assert ctl.safety.counters["stale_state"] == 1
    assert "stale_state" in ctl.diagnostics()["latched_reason"]
    backend.frozen = False
    ctl.tick()
    assert backend.commands[-1] == ("damping",)  # still latched
    ctl.reset()
    assert ctl.sm.mode == Mode.PASSIVE


def test_controller_nan_state_in_policy_damps(backend, clock):
    ctl = _controller(backend, clock)
    ctl.request_mode("STAND")
    for _ in range(8):
        ctl.tick()
        clock.advance(0.02)
    ctl.request_mode("POLICY")
    ctl.tick()
    backend.state.dq = np.full(12, np.nan)
    ctl.tick()
    assert ctl.sm.mode == Mode.DAMPING and backend.commands[-1] == ("damping",)
    assert ctl.safety.counters["nan"] >= 1


def test_loop_thread_with_controller_stops_to_damping(backend):
    backend.clock = __import__("time").monotonic
    ctl = _controller(backend, backend.clock)
    done = threading.Event()
    loop = DeadlineLoop(ctl.tick, period=0.005, on_stop=lambda: (backend.damping(), done.set()))
    loop.start()
    ctl.request_mode("STAND")
    loop.stop()
    assert done.is_set() and backend.commands[-1] == ("damping",)


def test_deploy_config_and_build_stack(tmp_path):
    from maa_core.config import ConfigError
    from maa_core.weights_io import save_weights_file
    from maa_deploy.loop import DeployConfig, build_stack

    adapt = adaptation_payload()
    save_weights_file(tmp_path / "adapt.npz", adapt.layout, adapt.flat)
    save_weights_file(tmp_path / "ref.npz", small_actor_layout(), random_actor(0))
    (tmp_path / "deploy.yaml").write_text(
        f"deploy:\n  backend: sim\n  sim_realtime: false\n  adaptation_path: {tmp_path / 'adapt.npz'}\n"
        f"  reference_actor_path: {tmp_path / 'ref.npz'}\n  initial_policy_path: {tmp_path / 'ref.npz'}\n"
        f"  sim_command_timeout_s: 0.1\n  safety:\n    max_roll: 0.6\n  unitree:\n    interface: lo\n")
    cfg = DeployConfig.from_yaml(tmp_path / "deploy.yaml")
    assert cfg.safety.max_roll == 0.6 and cfg.unitree.interface == "lo"
    controller, loop = build_stack(cfg)
    assert controller.backend.command_timeout_s == 0.1
    assert controller.runner.active is not None and loop.period == pytest.approx(0.02)
    controller.request_mode("STAND")
    loop.run(max_ticks=3)
    assert controller.backend.steps == 16  # (3 ticks + the damping commanded on stop) x 4 physics steps
    with pytest.raises(ConfigError, match="unknown key"):
        DeployConfig.from_mapping({"safety": {"max_rol": 1.0}})
    with pytest.raises(ConfigError, match="backend"):
        DeployConfig.from_mapping({"backend": "gazebo"})
    with pytest.raises(ConfigError, match="sim_command_timeout_s must be > 0"):
        DeployConfig.from_mapping({"sim_command_timeout_s": 0.0})
    assert DeployConfig().sim_command_timeout_s == 0.05  # the real path's 50 ms unless a config says otherwise
