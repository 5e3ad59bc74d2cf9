import math

import numpy as np
import pytest

from maa_core.config import ConfigError
from maa_deploy.backends.base import RobotState
from maa_deploy.safety import SafetyConfig, SafetyLayer, gravity_to_roll_pitch, quat_to_roll_pitch
from maa_go2.control import DEFAULT_JOINT_POS


def state(q=None, dq=None, quat=(1.0, 0, 0, 0), stamp=10.0):
    return RobotState(q=DEFAULT_JOINT_POS.copy() if q is None else np.asarray(q, float),
                      dq=np.zeros(12) if dq is None else np.asarray(dq, float), quat=np.asarray(quat, float),
                      gyro=np.zeros(3), stamp=stamp)


def test_go2_limits_in_policy_order():
    s = SafetyLayer(SafetyConfig(joint_limit_margin=0.0))
    np.testing.assert_allclose(s.lower[:3], [-1.0472, -1.5708, -2.7227])  # FL
    np.testing.assert_allclose(s.upper[6:9], [1.0472, 4.5379, -0.8378])  # RL (rear thigh)
    np.testing.assert_allclose(s.torque_limit[:3], [23.7, 23.7, 35.55])


def test_config_rejects_unknown_keys_and_bad_values(tmp_path):
    with pytest.raises(ConfigError, match="unknown key"):
        SafetyConfig.from_mapping({"max_rol": 0.5})
    with pytest.raises(ConfigError, match="max_roll"):
        SafetyConfig.from_mapping({"max_roll": -1.0})
    p = tmp_path / "deploy.yaml"
    p.write_text("safety:\n  max_roll: 0.5\n  state_timeout_s: 0.03\n")
    cfg = SafetyConfig.from_yaml(p)
    assert cfg.max_roll == 0.5 and cfg.state_timeout_s == 0.03


def test_out_of_bound_or_non_finite_actions_are_faults_not_clipped():
    s = SafetyLayer(SafetyConfig(action_clip=1.0))
    assert s.check_action(np.full(12, 0.5)) is None and s.counters["action_bound"] == 0
    fault, detail = s.check_action(np.r_[5.0, np.zeros(11)])
    assert fault == "action_bound" and "5" in detail and "action_clip 1" in detail
    for bad in (np.inf, -np.inf, np.nan):  # +-inf used to become a valid +-action_clip target
        fault, detail = s.check_action(np.r_[np.zeros(11), bad])
        assert fault == "action_bound" and "non-finite at joints [11]" in detail
    assert s.counters["action_bound"] == 4 and "action_clip" not in s.counters


def test_joint_limit_clamp_with_margin():
    s = SafetyLayer(SafetyConfig(joint_limit_margin=0.1, max_delta_q_per_tick=10.0))
    q_des = DEFAULT_JOINT_POS.copy()
    q_des[2] = 0.0  # FL calf above its upper limit -0.8378
    res = s.filter(q_des, 0.0, 0.0, state(), now=10.0)
    assert res.fault is None and "joint_limit" in res.clamped
    assert res.q_des[2] == pytest.approx(-0.8378 - 0.1)
    assert s.counters["joint_limit"] == 1


def test_rate_limit_against_previous_command():
    s = SafetyLayer(SafetyConfig(max_delta_q_per_tick=0.1))
    q0 = DEFAULT_JOINT_POS.copy()
    res = s.filter(q0 + 0.05, 0.0, 0.0, state(), now=10.0)
    assert res.clamped == ()
    res = s.filter(q0 + 0.3, 0.0, 0.0, state(), now=10.0)
    assert "rate_limit" in res.clamped and s.counters["rate_limit"] == 1
    np.testing.assert_allclose(res.q_des, q0 + 0.15)


def test_torque_clamp_moves_q_des():
    s = SafetyLayer(SafetyConfig(max_delta_q_per_tick=10.0))
    q = DEFAULT_JOINT_POS.copy()
    dq = np.full(12, 2.0)
    kp, kd = 40.0, 1.0
    delta = np.tile([1.0, 1.0, -1.0], 4)
    delta[0::3] = -np.sign(q[0::3])  # hips towards the other side, inside the joint limits
    q_des = q + delta  # |tau| ~ 40 N·m on every joint before the clamp
    res = s.filter(q_des, kp, kd, state(q=q, dq=dq), now=10.0)
    tau = kp * (res.q_des - q) - kd * dq
    assert "torque_clamp" in res.clamped and s.counters["torque_clamp"] == 1
    assert np.all(np.abs(tau) <= s.torque_limit + 1e-9)
    np.testing.assert_allclose(np.abs(tau), s.torque_limit)


def test_attitude_fault_from_quaternion():
    s = SafetyLayer(SafetyConfig(max_roll=0.5, max_pitch=0.5))
    roll = 0.7
    quat = (math.cos(roll / 2), math.sin(roll / 2), 0.0, 0.0)
    assert quat_to_roll_pitch(np.array(quat))[0] == pytest.approx(roll)
    res = s.filter(DEFAULT_JOINT_POS, 20.0, 0.5, state(quat=quat), now=10.0)
    assert res.fault == "attitude" and res.q_des is None and s.counters["attitude"] == 1
    pitch = -0.6
    res = s.filter(DEFAULT_JOINT_POS, 20.0, 0.5, state(quat=(math.cos(pitch / 2), 0, math.sin(pitch / 2), 0)), 10.0)
    assert res.fault == "attitude" and s.counters["attitude"] == 2


def test_gravity_roll_pitch_matches_quaternion():
    from maa_deploy.policy_runner import projected_gravity

    for roll, pitch in ((0.3, 0.0), (0.0, -0.4), (0.2, 0.25)):
        cr, sr, cp, sp = math.cos(roll / 2), math.sin(roll / 2), math.cos(pitch / 2), math.sin(pitch / 2)
        quat = np.array([cr * cp, sr * cp, cr * sp, -sr * sp])  # R = Ry(pitch) Rx(roll)
        r2, p2 = gravity_to_roll_pitch(projected_gravity(quat))
        r1, p1 = quat_to_roll_pitch(quat)
        assert (r1, p1) == pytest.approx((roll, pitch), abs=1e-9)
        assert (r2, p2) == pytest.approx((roll, pitch), abs=1e-9)


def test_stale_state_fault():
    s = SafetyLayer(SafetyConfig(state_timeout_s=0.04))
    assert s.filter(DEFAULT_JOINT_POS, 20.0, 0.5, state(stamp=10.0), now=10.03).fault is None
    res = s.filter(DEFAULT_JOINT_POS, 20.0, 0.5, state(stamp=10.0), now=10.05)
    assert res.fault == "stale_state" and "ms old" in res.detail and s.counters["stale_state"] == 1


@pytest.mark.parametrize("where", ["q", "dq", "quat", "q_des"])
def test_nan_anywhere_faults(where):
    s = SafetyLayer()
    st = state()
    q_des = DEFAULT_JOINT_POS.copy()
    if where == "q_des":
        q_des[3] = np.nan
    else:
        getattr(st, where)[0] = np.nan
    res = s.filter(q_des, 20.0, 0.5, st, now=10.0)
    assert res.fault == "nan" and s.counters["nan"] == 1
    assert s.report()["last_fault"] == "nan"
