"""Unitree Go2 ``rt/lowcmd`` wire format: struct packing and the Unitree CRC, in pure Python/numpy.

The robot rejects a ``LowCmd`` whose ``crc`` field does not match Unitree's ``crc32_core`` computed over the
command packed as the C struct (little-endian, 4-byte aligned, 812 bytes) read as 32-bit words, all words but
the last (the crc itself). ``crc32_core`` processes each word MSB first with polynomial 0x04C11DB7, initial value
0xFFFFFFFF, no reflection and no final xor. Feeding a data bit ``d`` after the shift-and-conditional-xor step is
the same as xoring it into the top bit before the step, so ``crc32_core(words)`` equals the standard non-reflected
CRC-32 (the CRC-32/MPEG-2 parameter set) over the words' big-endian bytes; we use a 256-entry table over those
bytes (:func:`crc32_core`) and keep the literal bit-serial form (:func:`crc32_core_bitwise`) as the reference the
tests compare against.

Layout of the packed ``LowCmd`` (offsets in bytes)::

    0   head[2] u8, level_flag u8, frame_reserve u8
    4   sn[2] u32, version[2] u32
    20  bandwidth u16, 2 pad
    24  motor_cmd[20]: mode u8, 3 pad, q, dq, tau, kp, kd f32, reserve[3] u32     (36 bytes each)
    744 bms_cmd: off u8, reserve[3] u8
    748 wireless_remote[40] u8, led[12] u8, fan[2] u8, gpio u8, 1 pad
    804 reserve u32, crc u32                                                      (812 total)

``rt/lowstate`` (``LowState``, 1180 bytes, layout in the comment above :data:`LOWSTATE_FORMAT`) carries a CRC
computed the same way; :func:`lowstate_crc` checks it (used by :mod:`maa_deploy.lowstate_check`).
"""
from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from maa_go2.joint_order import NUM_JOINTS, policy_to_sdk, sdk_to_policy

POLYNOMIAL = 0x04C11DB7
HEAD = (0xFE, 0xEF)
LEVEL_FLAG_LOW = 0xFF
MOTOR_MODE_SERVO = 0x01
NUM_MOTOR_SLOTS = 20
#: Position/velocity "stop" sentinels: a motor given these ignores position/velocity feedback (unused slots).
POS_STOP_F = 2.146e9
VEL_STOP_F = 16000.0

LOWCMD_FORMAT = "<2BBB2I2IH2x" + "B3x5f3I" * NUM_MOTOR_SLOTS + "B3B" + "40B12B2BBxII"
LOWCMD_SIZE = struct.calcsize(LOWCMD_FORMAT)
assert LOWCMD_SIZE == 812, LOWCMD_SIZE


def _make_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ POLYNOMIAL) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
        table[byte] = crc
    return table


_TABLE = [int(v) for v in _make_table()]


def crc32_core(words: Sequence[int] | np.ndarray) -> int:
    """Unitree ``crc32_core`` of a sequence of uint32 words (table-driven, ~0.2 ms for a LowCmd).

    Args:
        words: ``[N]`` unsigned 32-bit integers.
    Returns:
        The CRC as an ``int`` in ``[0, 2**32)``.
    """
    return crc32_msb_bytes(np.asarray(words, dtype=np.uint32).astype(">u4").tobytes())


def crc32_msb_bytes(data: bytes) -> int:
    """Non-reflected CRC-32 (poly 0x04C11DB7, init 0xFFFFFFFF, no final xor; "CRC-32/MPEG-2") of ``data``."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


def crc32_core_bitwise(words: Sequence[int] | np.ndarray) -> int:
    """Literal bit-serial ``crc32_core`` (slow reference for tests): per word, per bit MSB first."""
    crc = 0xFFFFFFFF
    for word in np.asarray(words, dtype=np.uint32).tolist():
        for bit in range(31, -1, -1):
            top = crc & 0x80000000
            crc = (crc << 1) & 0xFFFFFFFF
            if top:
                crc ^= POLYNOMIAL
            if (word >> bit) & 1:
                crc ^= POLYNOMIAL
    return crc


def words_of(packed: bytes) -> np.ndarray:
    """Packed struct bytes (length multiple of 4) -> little-endian uint32 words ``[len/4]``."""
    if len(packed) % 4:
        raise ValueError(f"packed struct length must be a multiple of 4 bytes, got {len(packed)}")
    return np.frombuffer(packed, dtype="<u4")


def struct_crc(packed: bytes) -> int:
    """CRC the robot expects for a packed struct: ``crc32_core`` of all words but the last (the crc field)."""
    return crc32_core(words_of(packed)[:-1])


@dataclass
class MotorCommand:
    mode: int = 0
    q: float = 0.0
    dq: float = 0.0
    tau: float = 0.0
    kp: float = 0.0
    kd: float = 0.0
    reserve: tuple[int, int, int] = (0, 0, 0)


@dataclass
class LowCmd:
    """Plain-Python mirror of ``unitree_go/msg/LowCmd`` (motor slots in SDK order)."""

    head: tuple[int, int] = HEAD
    level_flag: int = LEVEL_FLAG_LOW
    frame_reserve: int = 0
    sn: tuple[int, int] = (0, 0)
    version: tuple[int, int] = (0, 0)
    bandwidth: int = 0
    motor_cmd: list[MotorCommand] = field(default_factory=lambda: [MotorCommand() for _ in range(NUM_MOTOR_SLOTS)])
    bms_off: int = 0
    bms_reserve: tuple[int, int, int] = (0, 0, 0)
    wireless_remote: tuple[int, ...] = (0,) * 40
    led: tuple[int, ...] = (0,) * 12
    fan: tuple[int, int] = (0, 0)
    gpio: int = 0
    reserve: int = 0
    crc: int = 0


def pack_lowcmd(cmd) -> bytes:
    """Pack a :class:`LowCmd` or an SDK ``unitree_go.msg.dds_.LowCmd_`` into the 812-byte C struct."""
    values: list = [*cmd.head, cmd.level_flag, cmd.frame_reserve, *cmd.sn, *cmd.version, cmd.bandwidth]
    for m in cmd.motor_cmd:
        values += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, *m.reserve]
    if hasattr(cmd, "bms_cmd"):  # SDK message
        values += [cmd.bms_cmd.off, *cmd.bms_cmd.reserve]
    else:
        values += [cmd.bms_off, *cmd.bms_reserve]
    values += [*cmd.wireless_remote, *cmd.led, *cmd.fan, cmd.gpio, cmd.reserve, cmd.crc]
    return struct.pack(LOWCMD_FORMAT, *values)


def lowcmd_crc(cmd) -> int:
    """CRC of a :class:`LowCmd` or SDK ``LowCmd_`` (its current ``crc`` field does not influence the result)."""
    return struct_crc(pack_lowcmd(cmd))


def _per_joint(value, name: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (NUM_JOINTS,))
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    return arr


def fill_lowcmd(cmd, q_des, kp, kd, tau_ff=0.0, dq_des=0.0):
    """Write a 12-joint command given in *policy order* into ``cmd`` (SDK order), set header fields and the CRC.

    Args:
        cmd: a :class:`LowCmd` or an SDK ``LowCmd_`` (modified in place and returned).
        q_des: ``[12]`` target joint positions, rad (policy order).
        kp, kd: scalars or ``[12]`` gains, N·m/rad and N·m·s/rad.
        tau_ff: scalar or ``[12]`` feed-forward torque, N·m.
        dq_des: scalar or ``[12]`` target joint velocity, rad/s.
    Slots 12..19 get mode 0 with PosStopF/VelStopF and zero gains.
    """
    arrays = {n: policy_to_sdk(_per_joint(v, n)) for n, v in
              (("q_des", q_des), ("kp", kp), ("kd", kd), ("tau_ff", tau_ff), ("dq_des", dq_des))}
    cmd.head = list(HEAD) if not isinstance(cmd, LowCmd) else HEAD
    cmd.level_flag = LEVEL_FLAG_LOW
    cmd.gpio = 0
    for k, m in enumerate(cmd.motor_cmd):
        if k < NUM_JOINTS:
            m.mode, m.q, m.dq = MOTOR_MODE_SERVO, float(arrays["q_des"][k]), float(arrays["dq_des"][k])
            m.kp, m.kd, m.tau = float(arrays["kp"][k]), float(arrays["kd"][k]), float(arrays["tau_ff"][k])
        else:
            m.mode, m.q, m.dq, m.kp, m.kd, m.tau = 0, POS_STOP_F, VEL_STOP_F, 0.0, 0.0, 0.0
    cmd.crc = lowcmd_crc(cmd)
    return cmd


def lowcmd_joint_targets(cmd) -> dict[str, np.ndarray]:
    """Inverse of :func:`fill_lowcmd` for the 12 joints: ``{q, dq, kp, kd, tau}`` each ``[12]`` in policy order."""
    fields = ("q", "dq", "kp", "kd", "tau")
    sdk = {f: np.array([getattr(cmd.motor_cmd[k], f) for k in range(NUM_JOINTS)]) for f in fields}
    return {f: sdk_to_policy(v) for f, v in sdk.items()}


# --------------------------------------------------------------------------------------------- rt/lowstate
# ``unitree_go/msg/LowState`` packed as the C struct the robot computes its CRC over (little-endian, natural C
# alignment, 1180 bytes). Field types are the IDL's (``unitree_sdk2py/idl/unitree_go/msg/dds_/_LowState_.py``,
# ``_IMUState_``, ``_MotorState_``, ``_BmsState_``); the byte layout equals the SDK's own ``CRC`` packing
# (``unitree_sdk2py/utils/crc.py``), which packs some uint8/uint16 fields as signed: same bytes in the common range.
#
#    0   head[2] u8, level_flag u8, frame_reserve u8, sn[2] u32, version[2] u32, bandwidth u16, 2 pad
#   24   imu_state: quaternion[4] (w, x, y, z), gyroscope[3], accelerometer[3], rpy[3] f32, temperature u8, 3 pad
#   80   motor_state[20]: mode u8, 3 pad, q, dq, ddq, tau_est, q_raw, dq_raw, ddq_raw f32, temperature u8, 3 pad,
#        lost u32, reserve[2] u32                                                       (48 bytes each, SDK order)
# 1040   bms_state: version_high, version_low, status, soc u8, current i32, cycle u16, bq_ntc[2] u8, mcu_ntc[2] u8,
#        cell_vol[15] u16                                                               (44 bytes)
# 1084   foot_force[4] i16, foot_force_est[4] i16
# 1100   tick u32
# 1104   wireless_remote[40] u8, bit_flag u8, 3 pad
# 1148   adc_reel f32, temperature_ntc1 u8, temperature_ntc2 u8, 2 pad, power_v f32, power_a f32
# 1164   fan_frequency[4] u16, reserve u32, crc u32                                     (1180 total)
LOWSTATE_FORMAT = ("<2BBB2I2IH2x" + "13fB3x" + "B3x7fB3xI2I" * NUM_MOTOR_SLOTS + "4BiH2B2B15H" + "4h4hI"
                   + "40BB3xfBB2x2f4HII")
LOWSTATE_SIZE = struct.calcsize(LOWSTATE_FORMAT)
assert LOWSTATE_SIZE == 1180, LOWSTATE_SIZE
LOWSTATE_TICK_OFFSET = 1100
LOWSTATE_WIRELESS_REMOTE_OFFSET = 1104
LOWSTATE_CRC_OFFSET = 1176
_LOWSTATE_STRUCT = struct.Struct(LOWSTATE_FORMAT)
_MOTOR_STATE_FIELDS = ("mode", "q", "dq", "ddq", "tau_est", "q_raw", "dq_raw", "ddq_raw", "temperature", "lost")


@dataclass
class IMUState:
    """Mirror of ``unitree_go/msg/IMUState``: quaternion (w, x, y, z), gyroscope rad/s, accelerometer m/s², rpy rad."""

    quaternion: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    gyroscope: list[float] = field(default_factory=lambda: [0.0] * 3)
    accelerometer: list[float] = field(default_factory=lambda: [0.0, 0.0, 9.81])
    rpy: list[float] = field(default_factory=lambda: [0.0] * 3)
    temperature: int = 0


@dataclass
class MotorState:
    """Mirror of ``unitree_go/msg/MotorState`` (rad, rad/s, rad/s², N·m)."""

    mode: int = 0
    q: float = 0.0
    dq: float = 0.0
    ddq: float = 0.0
    tau_est: float = 0.0
    q_raw: float = 0.0
    dq_raw: float = 0.0
    ddq_raw: float = 0.0
    temperature: int = 0
    lost: int = 0
    reserve: list[int] = field(default_factory=lambda: [0, 0])


@dataclass
class BmsState:
    """Mirror of ``unitree_go/msg/BmsState``."""

    version_high: int = 0
    version_low: int = 0
    status: int = 0
    soc: int = 0
    current: int = 0
    cycle: int = 0
    bq_ntc: list[int] = field(default_factory=lambda: [0, 0])
    mcu_ntc: list[int] = field(default_factory=lambda: [0, 0])
    cell_vol: list[int] = field(default_factory=lambda: [0] * 15)


@dataclass
class LowState:
    """Plain-Python mirror of ``unitree_go/msg/LowState`` with the SDK's attribute names (motor slots in SDK order).

    Anything that reads an SDK ``LowState_`` (``msg.imu_state.quaternion``, ``msg.motor_state[k].q``, ``msg.tick``,
    ``msg.wireless_remote``, ``msg.crc``) reads this the same way, so tests and fakes need no SDK.
    """

    head: list[int] = field(default_factory=lambda: list(HEAD))
    level_flag: int = LEVEL_FLAG_LOW
    frame_reserve: int = 0
    sn: list[int] = field(default_factory=lambda: [0, 0])
    version: list[int] = field(default_factory=lambda: [0, 0])
    bandwidth: int = 0
    imu_state: IMUState = field(default_factory=IMUState)
    motor_state: list[MotorState] = field(default_factory=lambda: [MotorState() for _ in range(NUM_MOTOR_SLOTS)])
    bms_state: BmsState = field(default_factory=BmsState)
    foot_force: list[int] = field(default_factory=lambda: [0] * 4)
    foot_force_est: list[int] = field(default_factory=lambda: [0] * 4)
    tick: int = 0
    wireless_remote: list[int] = field(default_factory=lambda: [0] * 40)
    bit_flag: int = 0
    adc_reel: float = 0.0
    temperature_ntc1: int = 0
    temperature_ntc2: int = 0
    power_v: float = 0.0
    power_a: float = 0.0
    fan_frequency: list[int] = field(default_factory=lambda: [0] * 4)
    reserve: int = 0
    crc: int = 0


def pack_lowstate(msg) -> bytes:
    """Pack a :class:`LowState` or an SDK ``unitree_go.msg.dds_.LowState_`` into the 1180-byte C struct.

    Raises ``struct.error`` when a field is out of its C type's range (e.g. a negative ``tick``).
    """
    imu, bms = msg.imu_state, msg.bms_state
    values: list = [*msg.head, msg.level_flag, msg.frame_reserve, *msg.sn, *msg.version, msg.bandwidth,
                    *imu.quaternion, *imu.gyroscope, *imu.accelerometer, *imu.rpy, imu.temperature]
    for m in msg.motor_state:
        values += [m.mode, m.q, m.dq, m.ddq, m.tau_est, m.q_raw, m.dq_raw, m.ddq_raw, m.temperature, m.lost,
                   *m.reserve]
    values += [bms.version_high, bms.version_low, bms.status, bms.soc, bms.current, bms.cycle, *bms.bq_ntc,
               *bms.mcu_ntc, *bms.cell_vol, *msg.foot_force, *msg.foot_force_est, msg.tick, *msg.wireless_remote,
               msg.bit_flag, msg.adc_reel, msg.temperature_ntc1, msg.temperature_ntc2, msg.power_v, msg.power_a,
               *msg.fan_frequency, msg.reserve, msg.crc]
    return _LOWSTATE_STRUCT.pack(*values)


def unpack_lowstate(data: bytes) -> LowState:
    """Inverse of :func:`pack_lowstate`: 1180 bytes -> :class:`LowState` (the ``crc`` field is taken as stored)."""
    if len(data) != LOWSTATE_SIZE:
        raise ValueError(f"a packed LowState is {LOWSTATE_SIZE} bytes, got {len(data)}")
    v = list(_LOWSTATE_STRUCT.unpack(data))
    pos = 0

    def take(n: int) -> list:
        nonlocal pos
        pos += n
        return v[pos - n:pos]

    msg = LowState(head=take(2))
    msg.level_flag, msg.frame_reserve = take(2)
    msg.sn, msg.version, (msg.bandwidth,) = take(2), take(2), take(1)
    msg.imu_state = IMUState(take(4), take(3), take(3), take(3), *take(1))
    msg.motor_state = [MotorState(*take(10), reserve=take(2)) for _ in range(NUM_MOTOR_SLOTS)]
    msg.bms_state = BmsState(*take(6), bq_ntc=take(2), mcu_ntc=take(2), cell_vol=take(15))
    msg.foot_force, msg.foot_force_est, (msg.tick,) = take(4), take(4), take(1)
    msg.wireless_remote = take(40)
    (msg.bit_flag, msg.adc_reel, msg.temperature_ntc1, msg.temperature_ntc2, msg.power_v,
     msg.power_a) = take(6)
    msg.fan_frequency = take(4)
    msg.reserve, msg.crc = take(2)
    assert pos == len(v)
    return msg


_BITREV8 = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def crc32_core_fast(packed: bytes) -> int:
    """``crc32_core`` of the little-endian uint32 words in ``packed`` (whole words), a few µs for a LowState.

    Same value as ``crc32_core(words_of(packed))``, computed with ``zlib.crc32`` (C): the non-reflected CRC of a
    word stream equals the bit-reversed reflected CRC (zlib, minus its final xor) of the stream with every word
    bit-reversed; bit-reversing a little-endian word is bit-reversing each byte and reversing their order.
    """
    if len(packed) % 4:
        raise ValueError(f"packed struct length must be a multiple of 4 bytes, got {len(packed)}")
    swapped = np.frombuffer(packed, dtype="<u4").astype(">u4").tobytes()  # each word's bytes MSB first
    reflected = zlib.crc32(swapped.translate(_BITREV8)) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def lowstate_crc(msg) -> int:
    """CRC of a :class:`LowState` or SDK ``LowState_``: ``crc32_core`` over all 32-bit words but the last (the crc).

    The message's current ``crc`` field does not influence the result.
    """
    return crc32_core_fast(pack_lowstate(msg)[:LOWSTATE_CRC_OFFSET])


def lowstate_with_crc(msg):
    """Set ``msg.crc`` to :func:`lowstate_crc` and return ``msg`` (for fakes and simulated robots)."""
    msg.crc = lowstate_crc(msg)
    return msg


def fill_lowstate(msg, q=None, dq=None, quat_wxyz=None, gyro=None, tick: int | None = None,
                  wireless_remote: bytes | Sequence[int] | None = None, tau_est=None):
    """Write the fields a controller reads into ``msg`` (a :class:`LowState` or SDK ``LowState_``) and return it.

    Args (each optional; ``None`` leaves the field as it is):
        q, dq, tau_est: ``[12]`` joint position rad, velocity rad/s, torque N·m in *policy order* (written to SDK
            motor slots 0..11).
        quat_wxyz: ``[4]`` body orientation (w, x, y, z). gyro: ``[3]`` body angular velocity, rad/s.
        tick: the robot's uint32 tick. wireless_remote: 40 bytes.
    The ``crc`` field is not touched: call :func:`lowstate_with_crc` afterwards.
    """
    for name, values in (("q", q), ("dq", dq), ("tau_est", tau_est)):
        if values is None:
            continue
        sdk = policy_to_sdk(np.asarray(values, dtype=np.float64).reshape(NUM_JOINTS))
        for k in range(NUM_JOINTS):
            setattr(msg.motor_state[k], name, float(sdk[k]))
    if quat_wxyz is not None:
        msg.imu_state.quaternion = [float(v) for v in np.asarray(quat_wxyz, dtype=np.float64).reshape(4)]
    if gyro is not None:
        msg.imu_state.gyroscope = [float(v) for v in np.asarray(gyro, dtype=np.float64).reshape(3)]
    if tick is not None:
        msg.tick = int(tick)
    if wireless_remote is not None:
        if len(wireless_remote) != 40:
            raise ValueError(f"wireless_remote must be 40 bytes, got {len(wireless_remote)}")
        msg.wireless_remote = [int(b) for b in wireless_remote]
    return msg
