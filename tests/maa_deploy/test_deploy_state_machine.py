import numpy as np
import pytest

from maa_core.config import ConfigError
from maa_deploy.state_machine import Mode, StateMachine, StateMachineConfig, TransitionError
from maa_go2.control import DEFAULT_JOINT_POS


def test_legal_path_and_gains():
    sm = StateMachine(StateMachineConfig(stand_duration_s=1.0))
    q = np.zeros(12)
    cmd = sm.command(q, 0.0)
    assert sm.mode == Mode.PASSIVE and cmd.is_damping and np.all(cmd.kd > 0)
    sm.request("STAND", now=0.0)
    sm.command(q, 0.0)
    sm.request(Mode.POLICY, now=1.0)
    cmd = sm.command(q, 1.02, policy_q_des=DEFAULT_JOINT_POS)
    assert sm.mode == Mode.POLICY and np.all(cmd.kp == sm.config.policy_kp)
    sm.request(Mode.STAND, now=2.0)
    assert sm.mode == Mode.STAND


def test_illegal_transitions_are_refused_with_reason():
    sm = StateMachine()
    with pytest.raises(TransitionError, match="illegal transition PASSIVE -> POLICY"):
        sm.request(Mode.POLICY)
    sm.request(Mode.STAND, now=0.0)
    sm.command(np.zeros(12), 0.0)
    with pytest.raises(TransitionError, match="stand interpolation is 25% done"):
        sm.request(Mode.POLICY, now=0.5)
    assert sm.mode == Mode.STAND
    with pytest.raises(ValueError):
        sm.request("FLY")


def test_damping_latched_until_reset():
    sm = StateMachine()
    sm.request(Mode.STAND, now=0.0)
    sm.fault("attitude: roll 0.9")
    assert sm.mode == Mode.DAMPING and "attitude" in sm.latched_reason
    for target in (Mode.STAND, Mode.PASSIVE, Mode.POLICY):
        with pytest.raises(TransitionError, match="latched"):
            sm.request(target)
    sm.fault("second fault")  # keeps the first reason
    assert "attitude" in sm.latched_reason
    assert sm.command(np.zeros(12), 1.0, policy_q_des=np.zeros(12), mode=Mode.POLICY).is_damping
    sm.reset()
    assert sm.mode == Mode.PASSIVE and sm.latched_reason is None
    with pytest.raises(TransitionError, match="only leaves DAMPING"):
        sm.reset()


@pytest.mark.parametrize("start", [Mode.PASSIVE, Mode.STAND, Mode.POLICY])
def test_estop_from_everywhere(start):
    sm = StateMachine(StateMachineConfig(stand_duration_s=0.1))
    if start != Mode.PASSIVE:
        sm.request(Mode.STAND, now=0.0)
        sm.command(np.zeros(12), 0.0)
    if start == Mode.POLICY:
        sm.request(Mode.POLICY, now=1.0)
    assert sm.mode == start
    sm.estop()
    assert sm.mode == Mode.DAMPING


def test_stand_interpolates_from_measured_pose():
    sm = StateMachine(StateMachineConfig(stand_duration_s=2.0))
    q_measured = DEFAULT_JOINT_POS + np.linspace(-0.3, 0.3, 12)
    sm.request(Mode.STAND, now=5.0)
    first = sm.command(q_measured, 5.0)
    np.testing.assert_allclose(first.q_des, q_measured)
    half = sm.command(q_measured + 1.0, 6.0)  # later measurements do not move the start
    np.testing.assert_allclose(half.q_des, 0.5 * (q_measured + DEFAULT_JOINT_POS))
    np.testing.assert_allclose(sm.command(q_measured, 9.0).q_des, DEFAULT_JOINT_POS)
    assert sm.stand_progress(6.0) == pytest.approx(0.5)


def test_policy_mode_needs_targets_and_config_keys():
    with pytest.raises(ConfigError, match="unknown key"):
        StateMachineConfig.from_mapping({"stand_time": 1.0})
    with pytest.raises(ConfigError, match="damping_kd"):
        StateMachineConfig(damping_kd=0.0)
    sm = StateMachine(StateMachineConfig(stand_duration_s=0.1))
    sm.request(Mode.STAND, now=0.0)
    sm.command(np.zeros(12), 0.0)
    sm.request(Mode.POLICY, now=0.2)
    with pytest.raises(ValueError, match="policy_q_des"):
        sm.command(np.zeros(12), 0.2)
