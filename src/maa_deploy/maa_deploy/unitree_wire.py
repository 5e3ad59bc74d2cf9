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
"""
from __future__ import annotations

import struct
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
