"""Lowstate validation (maa_deploy.lowstate_check) and the LowState wire format (maa_deploy.unitree_wire)."""
import math
import struct
import time
import zlib

import numpy as np
import pytest

from maa_core.config import ConfigError
from maa_deploy import unitree_wire as wire
from maa_deploy.lowstate_check import (
    FAULTS,
    REMOTE_KEYS,
    LowStateCheckConfig,
    LowStateSample,
    LowStateValidator,
    decode_remote_keys,
    encode_remote_keys,
    sample_from_lowstate,
)
from maa_deploy.sdk_compat import SdkUnavailable, import_sdk
from maa_go2.control import JOINT_LOWER, JOINT_UPPER
from maa_go2.joint_order import POLICY_TO_SDK

try:
    import_sdk()
    SDK_REASON = ""
except SdkUnavailable as exc:
    SDK_REASON = str(exc)
needs_sdk = pytest.mark.skipif(bool(SDK_REASON), reason=f"unitree SDK not importable: {SDK_REASON}")

STAND_Q = np.array([0.1, 0.8, -1.5] * 4)
#: CRC of _known_state(), computed once with the SDK's own LowState packing (``CRC._CRC__PackLowState``) and its
#: bit-serial Python CRC (``CRC._crc_py``), independently of maa's code.
KNOWN_STATE_CRC = 0xB4A63C8A


def _known_state(msg=None):
    msg = wire.LowState() if msg is None else msg
    wire.fill_lowstate(msg, q=STAND_Q, dq=[0.25 * i - 1.0 for i in range(12)], quat_wxyz=[1.0, 0.0, 0.0, 0.0],
                       gyro=[0.5, -0.25, 0.125], tick=0x12345678, wireless_remote=bytes(range(40)))
    msg.imu_state.accelerometer = [0.0, 0.0, 9.75]
    msg.bms_state.soc, msg.bms_state.current = 87, -1200
    msg.bms_state.cell_vol = [3300 + i for i in range(15)]
    msg.foot_force = [10, -20, 30, -40]
    msg.power_v, msg.power_a = 28.5, 1.25
    msg.fan_frequency = [100, 200, 300, 400]
    msg.head, msg.level_flag = [0xFE, 0xEF], 0xFF
    return msg


def _sample(tick, **over):
    fields = dict(tick=tick, crc_ok=None, quat=[1.0, 0.0, 0.0, 0.0], q=STAND_Q.tolist(), dq=[0.0] * 12,
                  gyro=[0.0, 0.0, 0.0], wireless_remote=bytes(40))
    fields.update(over)
    return LowStateSample(**fields)


def _seeded(config=None, tick=1000):
    validator = LowStateValidator(config)
    assert validator.check(_sample(tick)).ok
    return validator


def _assert_fault(verdict, fault, validator):
    assert not verdict.ok and verdict.fault == fault, verdict
    assert validator.counters[fault] >= 1
    assert sum(validator.counters.values()) == validator.counters[fault]


# ------------------------------------------------------------------------------------------------ wire format
def test_lowstate_struct_layout_and_known_vector():
    msg = _known_state()
    raw = wire.pack_lowstate(msg)
    assert len(raw) == wire.LOWSTATE_SIZE == 1180
    assert raw[0:3] == bytes([0xFE, 0xEF, 0xFF])
    assert struct.unpack_from("<4f", raw, 24) == (1.0, 0.0, 0.0, 0.0)  # imu quaternion
    # motor slot 0 (SDK FR hip = policy joint 3) at 80, 48 bytes per slot: mode, 3 pad, q, dq
    assert struct.unpack_from("<B3xff", raw, 80)[1] == pytest.approx(STAND_Q[3])
    assert struct.unpack_from("<i", raw, 1044)[0] == -1200  # bms current
    assert struct.unpack_from("<I", raw, wire.LOWSTATE_TICK_OFFSET)[0] == 0x12345678
    assert raw[wire.LOWSTATE_WIRELESS_REMOTE_OFFSET:wire.LOWSTATE_WIRELESS_REMOTE_OFFSET + 40] == bytes(range(40))
    assert struct.unpack_from("<f", raw, 1156)[0] == 28.5  # power_v
    assert struct.unpack_from("<4H", raw, 1164) == (100, 200, 300, 400)
    assert wire.lowstate_crc(msg) == KNOWN_STATE_CRC
    assert wire.crc32_core_bitwise(wire.words_of(raw)[:-1]) == KNOWN_STATE_CRC
    wire.lowstate_with_crc(msg)
    raw = wire.pack_lowstate(msg)
    assert struct.unpack_from("<I", raw, wire.LOWSTATE_CRC_OFFSET)[0] == KNOWN_STATE_CRC == wire.struct_crc(raw)
    assert wire.pack_lowstate(wire.unpack_lowstate(raw)) == raw
    assert wire.lowstate_crc(msg) == KNOWN_STATE_CRC  # the crc field itself is not covered


def test_fast_crc_matches_reference():
    rng = np.random.default_rng(1)
    for n_words in (0, 1, 7, 294):
        words = rng.integers(0, 2**32, n_words, dtype=np.uint64).astype(np.uint32)
        packed = words.astype("<u4").tobytes()
        assert wire.crc32_core_fast(packed) == wire.crc32_core(words) == wire.crc32_core_bitwise(words)
    assert wire.crc32_core_fast(b"") == 0xFFFFFFFF
    assert wire.crc32_core_fast(bytes(8)) != zlib.crc32(bytes(8))
    with pytest.raises(ValueError, match="multiple of 4"):
        wire.crc32_core_fast(b"abc")


@needs_sdk
def test_lowstate_packing_matches_sdk():
    from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_
    from unitree_sdk2py.utils.crc import CRC

    rng = np.random.default_rng(2)
    ours, sdk = _known_state(), _known_state(unitree_go_msg_dds__LowState_())
    for msg in (ours, sdk):  # every field non-trivial, within the range the SDK's (partly signed) format accepts
        for k, m in enumerate(msg.motor_state):
            m.mode, m.temperature, m.lost, m.reserve = k % 2, 30 + k, 1000 + k, [k, 2 * k]
            m.ddq, m.tau_est, m.q_raw, m.dq_raw, m.ddq_raw = (0.1 * k + j for j in range(5))
        msg.sn, msg.version, msg.bandwidth, msg.frame_reserve = [11, 12], [13, 14], 0x1234, 7
        msg.imu_state.rpy, msg.imu_state.temperature = [0.01, -0.02, 0.03], 45
        b = msg.bms_state
        b.version_high, b.version_low, b.status, b.cycle, b.bq_ntc, b.mcu_ntc = 1, 2, 3, 400, [25, 26], [27, 28]
        msg.foot_force_est, msg.bit_flag, msg.adc_reel = [5, 6, 7, 8], 0x36, 3.3
        msg.temperature_ntc1, msg.temperature_ntc2, msg.reserve = 40, 41, 99
        msg.crc = 0xDEADBEEF
    q = rng.uniform(-1, 1, 12)
    wire.fill_lowstate(ours, q=q)
    wire.fill_lowstate(sdk, q=q)
    sdk_words = CRC()._CRC__PackLowState(sdk)  # SDK packing, all words but the crc
    assert len(sdk_words) == wire.LOWSTATE_SIZE // 4 - 1
    assert wire.words_of(wire.pack_lowstate(sdk))[:-1].tolist() == list(sdk_words)
    assert wire.pack_lowstate(ours) == wire.pack_lowstate(sdk)
    assert CRC().Crc(sdk) == CRC()._crc_py(sdk_words) == wire.lowstate_crc(sdk) == wire.lowstate_crc(ours)
    # the validator reads SDK messages the same way (policy order, crc verified)
    wire.lowstate_with_crc(sdk)
    sample = sample_from_lowstate(sdk)
    assert sample.crc_ok is True
    np.testing.assert_allclose(sample.q, q, atol=1e-6)
    assert [sdk.motor_state[int(POLICY_TO_SDK[i])].q for i in range(12)] == sample.q


# ------------------------------------------------------------------------------------------------ streams
def _stream_msg(k, tick0=5000):
    t = 0.002 * k
    msg = wire.LowState()
    wire.fill_lowstate(msg, q=STAND_Q + 0.2 * math.sin(3 * t), dq=np.full(12, 0.6 * math.cos(3 * t)),
                       quat_wxyz=[math.cos(0.05 * t), 0.0, 0.0, math.sin(0.05 * t)], gyro=[0.1, -0.2, 0.05],
                       tick=tick0 + 2 * k, wireless_remote=encode_remote_keys(["A"] if k % 50 == 0 else []))
    return wire.lowstate_with_crc(msg)


def test_good_stream_passes():
    validator = LowStateValidator()
    for k in range(300):
        verdict = validator.check_message(_stream_msg(k))
        assert verdict.ok and verdict.fault is None and not verdict.estop, (k, verdict)
    assert validator.messages == 300
    assert validator.counters == dict.fromkeys(FAULTS, 0)


def test_first_message_only_seeds_tick_and_reset_reseeds():
    validator = LowStateValidator()
    assert validator.check(_sample(4_000_000_000)).ok  # any first tick
    assert validator.check(_sample(4_000_000_002)).ok
    _assert_fault(validator.check(_sample(7)), "tick_jump", validator)
    validator.reset()
    assert validator.check(_sample(123)).ok
    assert validator.check(_sample(125)).ok


def test_nan_and_inf_are_faults():
    for field_name, bad in (("q", STAND_Q.tolist()[:5] + [math.nan] + STAND_Q.tolist()[6:]),
                            ("dq", [0.0] * 11 + [math.inf]), ("gyro", [0.0, -math.inf, 0.0]),
                            ("quat", [math.nan, 0.0, 0.0, 0.0])):
        validator = _seeded()
        verdict = validator.check(_sample(1002, **{field_name: bad}))
        _assert_fault(verdict, "nan", validator)
        assert field_name in verdict.detail and ("nan" in verdict.detail or "inf" in verdict.detail)
    # NaN through the message path too
    validator = LowStateValidator()
    assert validator.check_message(_stream_msg(0)).ok
    msg = _stream_msg(1)
    msg.motor_state[4].dq = math.nan
    _assert_fault(validator.check_message(wire.lowstate_with_crc(msg)), "nan", validator)


def test_frozen_tick():
    config = LowStateCheckConfig(frozen_tick_messages=4)
    validator = _seeded(config, tick=1000)  # 1st message with tick 1000
    for _ in range(2):  # 2nd and 3rd: a repeated tick alone is tolerated
        assert validator.check(_sample(1000)).ok
    verdict = validator.check(_sample(1000))  # 4th consecutive
    _assert_fault(verdict, "tick_frozen", validator)
    assert "1000" in verdict.detail and "4" in verdict.detail
    assert validator.check(_sample(1002)).ok  # moves again


def test_tick_jump():
    validator = _seeded(LowStateCheckConfig(max_tick_step=50), tick=1000)
    assert validator.check(_sample(1050)).ok  # exactly the limit
    verdict = validator.check(_sample(1101))
    _assert_fault(verdict, "tick_jump", validator)
    assert "51" in verdict.detail


def test_tick_step_allows_the_ticks_of_a_receive_gap():
    """Samples lost while the subscriber was descheduled (a 108 ms gap seen on a loaded CI machine) are not a jump;
    a 10 s jump within a normal 2 ms gap still is, and so is a jump beyond the gap."""
    validator = _seeded(LowStateCheckConfig(max_tick_step=50))
    validator.check(_sample(1002, received_at=10.000))
    assert validator.check(_sample(1110, received_at=10.110)).ok  # 108 ticks after a 110 ms gap
    verdict = validator.check(_sample(11_110, received_at=10.112))
    _assert_fault(verdict, "tick_jump", validator)
    assert "9996 ticks ahead of the clock" in verdict.detail and "limit 50" in verdict.detail
    validator = _seeded(LowStateCheckConfig(max_tick_step=50))
    validator.check(_sample(1002, received_at=10.0))
    _assert_fault(validator.check(_sample(1300, received_at=10.2)), "tick_jump", validator)  # 298 > 50 + 200
    off = _seeded(LowStateCheckConfig(max_tick_step=50, tick_rate_hz=0))  # receive times ignored
    off.check(_sample(1002, received_at=10.0))
    _assert_fault(off.check(_sample(1110, received_at=10.11)), "tick_jump", off)


def test_a_late_queued_sample_then_a_fresh_one_is_not_a_jump():
    """The CI flake: a reader that fell behind takes an old queued sample, then the fresh one 2.3 ms later; the
    ticks between them (122) are explained by the delay of the old one, not by a jump of the robot's counter."""
    validator = LowStateValidator(LowStateCheckConfig(max_tick_step=50))
    t = 10.0
    for k in range(50):  # on time: 2 ticks per 2 ms
        assert validator.check(_sample(1000 + 2 * k, received_at=t + 0.002 * k)).ok
    tick, t = 1000 + 2 * 49, t + 0.002 * 49
    assert validator.check(_sample(tick + 2, received_at=t + 0.250)).ok  # read 248 ms late (queued)
    assert validator.check(_sample(tick + 124, received_at=t + 0.2523)).ok  # the fresh sample, 122 ticks on
    verdict = validator.check(_sample(tick + 124 + 200, received_at=t + 0.2543))  # 198 ticks ahead of the clock
    _assert_fault(verdict, "tick_jump", validator)


def test_a_robot_clock_slightly_faster_than_the_host_is_absorbed():
    """A tick counter 0.1 % faster than the host's clock gains 60 ticks per minute on it: never a jump."""
    validator = LowStateValidator(LowStateCheckConfig(max_tick_step=50))
    for k in range(0, 60_000, 10):  # one sample per 20 ms over 120 s
        assert validator.check(_sample(round(2.002 * k), received_at=0.002 * k)).ok, k


def test_the_clock_reference_works_across_the_uint32_wrap():
    validator = LowStateValidator(LowStateCheckConfig(max_tick_step=50))
    for k in range(6):
        assert validator.check(_sample((2**32 - 6 + 2 * k) % 2**32, received_at=1.0 + 0.002 * k)).ok, k
    _assert_fault(validator.check(_sample(400, received_at=1.014)), "tick_jump", validator)


def test_tick_rate_must_be_a_finite_non_negative_number():
    for bad in (-1.0, float("nan"), True, "fast"):
        with pytest.raises(ConfigError, match="tick_rate_hz"):
            LowStateCheckConfig(tick_rate_hz=bad)


def test_tick_backwards():
    validator = _seeded(tick=1000)
    assert validator.check(_sample(1002)).ok
    verdict = validator.check(_sample(1000))
    _assert_fault(verdict, "tick_backwards", validator)
    assert "back by 2" in verdict.detail


def test_tick_uint32_wraparound_passes():
    validator = _seeded(tick=2**32 - 4)
    for tick in (2**32 - 2, 0, 2, 4):
        verdict = validator.check(_sample(tick))
        assert verdict.ok, (tick, verdict)
    _assert_fault(validator.check(_sample(2**32 - 2)), "tick_backwards", validator)  # and back across the wrap


def test_quaternion_norm():
    validator = _seeded()
    assert validator.check(_sample(1002, quat=[1.04, 0.0, 0.0, 0.0])).ok  # within 0.05
    verdict = validator.check(_sample(1004, quat=[0.0, 0.0, 0.0, 0.0]))
    _assert_fault(verdict, "quaternion", validator)
    assert "norm 0.0000" in verdict.detail
    verdict = validator.check(_sample(1006, quat=[0.8, 0.6, 0.3, 0.0]))  # norm 1.044 -> ok; scale it up
    assert verdict.ok
    _assert_fault(validator.check(_sample(1008, quat=[0.88, 0.66, 0.0, 0.0])), "quaternion", validator)  # 1.1


def test_bad_crc_flipped_byte_and_changed_field():
    validator = LowStateValidator()
    assert validator.check_message(_stream_msg(0)).ok
    raw = bytearray(wire.pack_lowstate(_stream_msg(1)))
    raw[wire.LOWSTATE_WIRELESS_REMOTE_OFFSET + 20] ^= 0x10  # one bit of the remote blob (ly stick bytes)
    verdict = validator.check_message(wire.unpack_lowstate(bytes(raw)))
    _assert_fault(verdict, "crc", validator)
    msg = _stream_msg(2)
    msg.motor_state[7].q += 1e-3  # changed after the crc was computed
    _assert_fault(validator.check_message(msg), "crc", validator)
    assert validator.counters["crc"] == 2
    # a failed CRC does not move the tick: the next good message is a normal step from the last good one
    assert validator.check_message(_stream_msg(1)).ok
    # crc 0 = "not computed" (simulators): not checked; check_crc=False: not checked
    msg = _stream_msg(2)
    msg.motor_state[7].q += 1e-3
    msg.crc = 0
    assert sample_from_lowstate(msg).crc_ok is None
    assert validator.check_message(msg).ok
    lax = LowStateValidator(LowStateCheckConfig(check_crc=False))
    changed = _stream_msg(0)
    changed.tick += 2
    assert sample_from_lowstate(changed, check_crc=False).crc_ok is None
    assert lax.check_message(changed).ok


def test_joint_out_of_range():
    margin = 0.1
    for joint, (low, high) in enumerate(zip(JOINT_LOWER, JOINT_UPPER)):
        validator = _seeded(LowStateCheckConfig(joint_limit_margin=margin))
        inside = STAND_Q.copy()
        inside[joint] = high + margin - 1e-6
        assert validator.check(_sample(1002, q=inside.tolist())).ok
        outside = STAND_Q.copy()
        outside[joint] = low - margin - 1e-3
        verdict = validator.check(_sample(1004, q=outside.tolist()))
        _assert_fault(verdict, "joint_range", validator)
        assert f"{outside[joint]:.4f}" in verdict.detail


def test_joint_velocity_and_gyro_limits():
    validator = _seeded(LowStateCheckConfig(max_joint_velocity=40.0, max_gyro=30.0))
    dq = [0.0] * 12
    dq[5] = 39.9
    assert validator.check(_sample(1002, dq=dq)).ok
    dq[5] = -40.5
    _assert_fault(validator.check(_sample(1004, dq=dq)), "joint_velocity", validator)
    validator = _seeded(LowStateCheckConfig(max_gyro=30.0))
    assert validator.check(_sample(1002, gyro=[29.0, -29.0, 0.0])).ok
    _assert_fault(validator.check(_sample(1004, gyro=[0.0, 0.0, -31.0])), "gyro", validator)


# ------------------------------------------------------------------------------------------------ remote
def test_remote_key_layout():
    blob = bytearray(40)
    blob[0:2] = b"\x55\x51"  # head
    struct.pack_into("<5f", blob, 4, 0.5, -0.5, 0.25, 1.0, -1.0)  # sticks and L2 analog: not keys
    assert decode_remote_keys(bytes(blob)) == frozenset()
    blob[2] = 0b0010_0001  # bit 0 = R1, bit 5 = L2
    blob[3] = 0b1000_0010  # bit 9 = B, bit 15 = left
    assert decode_remote_keys(bytes(blob)) == {"R1", "L2", "B", "left"}
    assert decode_remote_keys(list(blob)) == {"R1", "L2", "B", "left"}  # the SDK gives a list of ints
    for i, name in enumerate(REMOTE_KEYS):
        assert decode_remote_keys(encode_remote_keys([name])) == {name}
        assert int.from_bytes(encode_remote_keys([name])[2:4], "little") == 1 << i
    with pytest.raises(ValueError, match="40 bytes"):
        decode_remote_keys(bytes(39))


def test_remote_estop_only_when_all_buttons_pressed():
    validator = _seeded(LowStateCheckConfig(remote_estop=["L2", "B"]))
    tick = 1000
    for pressed, expected in ((["L2"], False), (["B"], False), (["L1", "A"], False), (["L2", "B"], True),
                              (["L2", "B", "A", "up"], True), ([], False)):
        tick += 2
        verdict = validator.check(_sample(tick, wireless_remote=encode_remote_keys(pressed)))
        assert verdict.ok and verdict.estop is expected, (pressed, verdict)
    # reported with faults too, and through the message path
    tick += 2
    verdict = validator.check(_sample(tick, quat=[0.0] * 4, wireless_remote=encode_remote_keys(["L2", "B"])))
    assert verdict.fault == "quaternion" and verdict.estop
    msg = _stream_msg(0)
    wire.lowstate_with_crc(wire.fill_lowstate(msg, wireless_remote=encode_remote_keys(["B", "L2"])))
    assert LowStateValidator().check_message(msg).estop
    # off when the list is empty; no blob -> no e-stop
    off = _seeded(LowStateCheckConfig(remote_estop=[]))
    assert not off.check(_sample(1002, wireless_remote=encode_remote_keys(list(REMOTE_KEYS)))).estop
    assert not validator.check(_sample(tick + 2, wireless_remote=None)).estop


# ------------------------------------------------------------------------------------------------ config
def test_config_errors_and_from_mapping():
    with pytest.raises(ConfigError, match=r"unknown remote button.*'Z'.*valid names.*'R1'"):
        LowStateCheckConfig(remote_estop=["L2", "Z"])
    with pytest.raises(ConfigError, match="remote_estop must be a list"):
        LowStateCheckConfig(remote_estop="L2")
    with pytest.raises(ConfigError, match="max_tick_step must be an integer >= 1"):
        LowStateCheckConfig(max_tick_step=0)
    with pytest.raises(ConfigError, match="frozen_tick_messages must be an integer >= 2"):
        LowStateCheckConfig(frozen_tick_messages=1)
    with pytest.raises(ConfigError, match="joint_limit_margin must be a finite number >= 0"):
        LowStateCheckConfig(joint_limit_margin=-0.1)
    for name in ("quat_norm_tol", "max_joint_velocity", "max_gyro"):
        with pytest.raises(ConfigError, match=f"{name} must be a finite number > 0"):
            LowStateCheckConfig(**{name: 0.0})
        with pytest.raises(ConfigError, match=name):
            LowStateCheckConfig(**{name: math.nan})
    with pytest.raises(ConfigError, match="check_crc"):
        LowStateCheckConfig(check_crc="yes")
    with pytest.raises(ConfigError, match="no_such_key"):
        LowStateCheckConfig.from_mapping({"no_such_key": 1})
    with pytest.raises(ConfigError, match="unknown remote button"):
        LowStateCheckConfig.from_mapping({"remote_estop": ["start", "Start"]})
    cfg = LowStateCheckConfig.from_mapping({"max_tick_step": 10, "remote_estop": ["start", "select"]})
    assert cfg.max_tick_step == 10 and cfg.remote_estop == ["start", "select"] and cfg.check_crc
    assert LowStateCheckConfig.from_mapping(None) == LowStateCheckConfig()


# ------------------------------------------------------------------------------------------------ speed
def test_check_speed_report():
    """Prints the time per check (no timing assert): run with ``-s`` to see it."""
    validator = LowStateValidator()
    msgs = [_stream_msg(k) for k in range(500)]
    samples = [sample_from_lowstate(m) for m in msgs]
    for s in samples:
        s.crc_ok = True
    n = len(samples)
    t0 = time.perf_counter()
    for s in samples:
        validator.check(s)
    t_check = (time.perf_counter() - t0) / n
    validator.reset()
    t0 = time.perf_counter()
    for m in msgs:
        validator.check_message(m)
    t_message = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for m in msgs:
        wire.lowstate_crc(m)
    t_crc = (time.perf_counter() - t0) / n
    assert validator.counters == dict.fromkeys(FAULTS, 0)
    print(f"\nlowstate check: {t_check * 1e6:.1f} us/check(sample), {t_message * 1e6:.1f} us/check_message "
          f"(incl. CRC), lowstate_crc alone {t_crc * 1e6:.1f} us")
