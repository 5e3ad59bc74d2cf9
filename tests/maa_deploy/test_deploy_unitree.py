import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from maa_deploy import unitree_wire as wire
from maa_deploy.sdk_compat import SdkUnavailable, import_sdk
from maa_go2.joint_order import POLICY_TO_SDK, SDK_JOINT_NAMES

try:
    import_sdk()
    SDK_REASON = ""
except SdkUnavailable as exc:
    SDK_REASON = str(exc)
needs_sdk = pytest.mark.skipif(bool(SDK_REASON), reason=f"unitree SDK not importable: {SDK_REASON}")
SCENARIOS = Path(__file__).with_name("dds_scenarios.py")


def test_crc_known_vectors():
    # Published check value of the CRC-32/MPEG-2 parameter set (poly 04C11DB7, init FFFFFFFF, no reflection/xorout)
    assert wire.crc32_msb_bytes(b"123456789") == 0x0376E6E7
    assert wire.crc32_core([]) == 0xFFFFFFFF
    words = np.random.default_rng(0).integers(0, 2**32, 203, dtype=np.uint64)
    assert wire.crc32_core(words) == wire.crc32_core_bitwise(words)
    # the word CRC is the byte CRC over big-endian words, and differs from zlib's reflected CRC-32
    data = np.asarray(words, np.uint32).astype(">u4").tobytes()
    assert wire.crc32_core(words) == wire.crc32_msb_bytes(data) != zlib.crc32(data)


def test_lowcmd_packing_offsets_and_crc():
    cmd = wire.fill_lowcmd(wire.LowCmd(), np.arange(12) * 0.1, 20.0, 0.5)
    raw = wire.pack_lowcmd(cmd)
    assert len(raw) == 812
    assert raw[0:3] == bytes([0xFE, 0xEF, 0xFF])
    mode, q, dq, tau, kp, kd = struct.unpack_from("<B3x5f", raw, 24)  # motor slot 0 = SDK FR hip
    assert (mode, kp, kd) == (1, 20.0, 0.5) and q == pytest.approx(0.3)  # policy index 3 = FR hip
    assert struct.unpack_from("<B3xf", raw, 24 + 36 * 12)[1] == pytest.approx(wire.POS_STOP_F, rel=1e-6)
    assert raw[802] == 0  # gpio
    assert struct.unpack_from("<I", raw, 808)[0] == cmd.crc == wire.struct_crc(raw)
    cmd.motor_cmd[0].q += 1e-3
    assert wire.lowcmd_crc(cmd) != cmd.crc


def test_motor_order_roundtrip():
    q_des = np.arange(12) * 0.1 - 0.5
    cmd = wire.fill_lowcmd(wire.LowCmd(), q_des, np.arange(12) + 1.0, 0.5)
    for policy_index, sdk_index in enumerate(POLICY_TO_SDK):
        assert cmd.motor_cmd[sdk_index].q == pytest.approx(q_des[policy_index])
    assert SDK_JOINT_NAMES[0] == "FR_hip_joint"
    back = wire.lowcmd_joint_targets(cmd)
    np.testing.assert_allclose(back["q"], q_des)
    np.testing.assert_allclose(back["kp"], np.arange(12) + 1.0)
    with pytest.raises(ValueError, match="finite"):
        wire.fill_lowcmd(wire.LowCmd(), np.full(12, np.nan), 20.0, 0.5)


@needs_sdk
def test_matches_sdk_reference_crc_and_packing():
    from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowCmd_
    from unitree_sdk2py.utils.crc import CRC

    msg = wire.fill_lowcmd(unitree_go_msg_dds__LowCmd_(), np.linspace(-1, 1, 12), 25.0, 0.7, tau_ff=0.1)
    crc = CRC()
    sdk_words = crc._CRC__PackLowCmd(msg)  # the SDK's own packing (all words but the crc)
    assert list(wire.words_of(wire.pack_lowcmd(msg))[:-1]) == sdk_words
    assert crc._crc_py(sdk_words) == msg.crc  # the SDK's pure-Python crc32_core
    assert crc.Crc(msg) == msg.crc  # routed to maa's implementation (the wheel has no crc .so)


def _scenario(name: str, domain: int) -> dict:
    out = subprocess.run([sys.executable, str(SCENARIOS), name, str(domain)], capture_output=True, text=True,
                         timeout=60, cwd=SCENARIOS.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _domain() -> int:  # avoid colliding with other DDS users on this host
    return int(np.random.default_rng().integers(100, 200))


def test_unitree_config_rejects_bad_values():
    from maa_core.config import ConfigError
    from maa_deploy.backends.unitree import UnitreeConfig

    assert UnitreeConfig().close_damping_s > 0
    with pytest.raises(ConfigError, match=r"publish_hz=0.0 \(expected > 0\).*close_damping_s=-1.0 \(expected >= 0\)"):
        UnitreeConfig(publish_hz=0.0, close_damping_s=-1.0)
    with pytest.raises(ConfigError, match="state_timeout_s=nan"):
        UnitreeConfig(state_timeout_s=float("nan"))


@needs_sdk
def test_backend_refuses_when_lowcmd_already_published():
    out = _scenario("refuse", _domain())
    assert out["refused"] and "another process already publishes rt/lowcmd" in out["error"]


@needs_sdk
def test_backend_against_simulated_robot_over_dds():
    out = _scenario("run", _domain())
    # sport mode released through our MotionSwitcher client (the robot process serves motion_switcher RPC)
    assert out["after_start"]["sport_mode"] == "" and out["after_start"]["releases"] == 1
    np.testing.assert_allclose(out["state_q"], out["expected_q"], atol=1e-6)  # SDK -> policy order
    driving = out["while_driving"]
    assert driving["pd_frames"] > 0 and driving["crc_bad"] == 0
    last = driving["last"]
    assert last["head"] == [0xFE, 0xEF] and last["level_flag"] == 0xFF and last["gpio"] == 0
    assert last["mode"][:12] == [1] * 12 and last["mode"][12:] == [0] * 8
    np.testing.assert_allclose(np.array(last["q"][:12])[POLICY_TO_SDK], out["q_des"], atol=1e-6)
    assert last["kp"][:12] == [20.0] * 12
    # policy loop stopped -> the publisher damps instead of holding the last target, and the damping latches
    assert out["after_command_timeout"]["last"]["kp"][:12] == [0.0] * 12
    assert "command stale" in out["latched"] and out["counters"]["damping_stale_command"] == 1
    resumed = out["resumed_while_latched"]
    assert resumed["last"]["kp"][:12] == [0.0] * 12 and out["counters"]["refused_while_latched"] >= 5
    # the damping frame is constant: q = 0, kp = 0, kd > 0 whatever the measured pose
    assert resumed["last"]["q"][:12] == [0.0] * 12 and min(resumed["last"]["kd"][:12]) > 0
    assert "command stale" in out["cleared"] and out["after_clear"]["last"]["kp"][:12] == [20.0] * 12
    # close streams damping (~50 frames in 0.1 s; 15-24 arrived under full CPU load): lost frames cannot leave PD
    assert out["after_close"]["last"]["kp"][:12] == [0.0] * 12
    assert out["after_close"]["damping_frames"] - out["after_clear"]["damping_frames"] >= 5


@needs_sdk
def test_wire_fault_matrix():
    """Every wire-level and backend-side fault is detected and latched; no PD frame leaves after detection."""
    proc = subprocess.run([sys.executable, "-m", "maa_deploy.fault_matrix", str(_domain())], capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    kinds = [s["fault"] for s in out["scenarios"]]
    assert {"nan", "frozen_tick", "jumping_tick", "zero_quaternion", "bad_crc", "remote_estop", "second_writer",
            "pause", "publisher_exception"} <= set(kinds)
    expected = {"nan": "(nan)", "frozen_tick": "tick_frozen", "jumping_tick": "tick_jump", "zero_quaternion":
                "quaternion", "bad_crc": "(crc)", "joint_range": "joint_range", "remote_estop": "remote e-stop",
                "pause": "lowstate stale", "second_writer": "another rt/lowcmd writer",
                "publisher_exception": "publisher error", "nonfinite_command": "non-finite"}
    for s in out["scenarios"]:
        assert s["detected"] and expected[s["fault"]] in s["reason"], s
        assert s["unsafe_frames"] == 0 and s["latch_held_after_restore"], s
        assert s["damping_latency_ms"] is not None, s
        # only the competitor's blank frames have a bad CRC
        assert (s["crc_bad"] > 0) if s["fault"] == "second_writer" else (s["crc_bad"] == 0), s
    assert out["thread_health"]["dead"] == [] and out["thread_health"]["errors"] == {"lowcmd-publisher": 1}
    assert out["sport_mode_released"]
    np.testing.assert_allclose(out["state_q"], out["expected_q"], atol=1e-6)


class _FakeSwitcher:
    def __init__(self, modes, code=0):
        self.modes, self.code, self.released = list(modes), code, 0

    def check_mode(self):
        return self.code, {"form": "0", "name": self.modes[0]}

    def release_mode(self):
        self.released += 1
        self.modes.pop(0)
        return 0


def test_release_sport_mode_logic():
    from maa_deploy.sdk_compat import release_sport_mode

    switcher = _FakeSwitcher(["normal", "ai", ""])
    release_sport_mode(switcher, wait_s=0.0)
    assert switcher.released == 2
    with pytest.raises(RuntimeError, match="CheckMode failed with code 3102"):
        release_sport_mode(_FakeSwitcher([""], code=3102), wait_s=0.0)
    stuck = _FakeSwitcher(["normal"] * 10)
    stuck.release_mode = lambda: 0
    with pytest.raises(RuntimeError, match="could not release sport mode 'normal'"):
        release_sport_mode(stuck, attempts=3, wait_s=0.0)


def test_only_foreign_timing_trips_are_retried():
    from maa_deploy.fault_matrix import is_spurious_timing_trip

    stale_cmd = "command stale: no joint target for 68 ms (limit 50 ms): the control loop stopped"
    assert is_spurious_timing_trip("zero_quaternion", stale_cmd)
    assert is_spurious_timing_trip("nan", "lowstate stale: none for 60 ms")
    assert not is_spurious_timing_trip("pause", "lowstate stale: none for 60 ms")  # the pause scenario's own fault
    assert is_spurious_timing_trip("pause", stale_cmd)
    assert not is_spurious_timing_trip("zero_quaternion", "backend: lowstate rejected (quaternion): norm 0")
