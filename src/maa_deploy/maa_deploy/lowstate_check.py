"""Validation of every Go2 ``rt/lowstate`` message, and the e-stop read from the Go2 wireless remote.

Pure Python/numpy, no ROS, no SDK: the real-robot backend calls :meth:`LowStateValidator.check_message` (or
:meth:`LowStateValidator.check` with a :class:`LowStateSample`) from its lowstate callback, at 500 Hz.

Faults (the verdict names the first one found, in this order; each is counted in
:attr:`LowStateValidator.counters`):

* ``crc``: the message carries a non-zero ``crc`` that does not match :func:`maa_deploy.unitree_wire.lowstate_crc`
  (a zero ``crc`` means "not computed", e.g. a simulator, and is not checked);
* ``nan``: a non-finite value in the quaternion, joint positions/velocities or gyroscope;
* ``tick_frozen``: ``frozen_tick_messages`` consecutive messages with the same ``tick``;
* ``tick_jump``: without receive times, the tick advanced by more than ``max_tick_step`` since the previous
  message. With receive times (and ``tick_rate_hz`` > 0), the tick is compared with the clock: a message's *lead*
  is ``tick - tick_rate_hz * received_at``, a publisher cannot run ahead of time, so a jump is a lead more than
  ``max_tick_step`` above the highest lead seen since the last reset. Samples lost while the subscriber was
  descheduled, and a queued (late) sample followed by a fresh one, are not jumps: the state is fresh, and staleness
  is the state watchdog's job. The reference follows the highest lead, so a robot clock slightly faster than the
  host's is absorbed;
* ``tick_backwards``: the tick went back (a difference modulo 2**32 of 2**31 or more is read as negative, so the
  uint32 wrap-around 4294967295 -> 1 is a normal +2 step);
* ``quaternion``: ``| |quat| - 1 | > quat_norm_tol`` (a zero quaternion included);
* ``joint_range``: a joint outside the hardware range widened by ``joint_limit_margin``;
* ``joint_velocity``: ``|dq| > max_joint_velocity``;
* ``gyro``: a gyroscope component beyond ``max_gyro``.

The tick: the Go2's ``LowState.tick`` is a uint32 counter of the motion controller's milliseconds, and lowstate is
published at 500 Hz, so consecutive messages normally differ by 2 (4 when one DDS sample is lost). Unitree's own
documentation gives no unit for the Go2 field (the older ``unitree_legged_msgs/LowState.msg`` of Go1/A1 said
microseconds), so the defaults are generous (50) and the first hardware run must confirm the step; a robot whose tick
counted microseconds would trip ``tick_jump`` on every message (fail-safe: damping), fixed by raising
``max_tick_step``. The first message after construction or :meth:`LowStateValidator.reset` only seeds the tick; a
message that fails the CRC does not move it.

The e-stop (:attr:`LowStateVerdict.estop`) is reported separately from faults: it is true while every button in
``remote_estop`` is held on the wireless remote (key bitfield: :func:`decode_remote_keys`). It is computed even when
the message has a fault, since reading a press that is not there only damps.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maa_core.config import ConfigError, dataclass_from_mapping, load_yaml_mapping
from maa_deploy import unitree_wire
from maa_go2.control import JOINT_LOWER, JOINT_UPPER
from maa_go2.joint_order import JOINT_NAMES, NUM_JOINTS, POLICY_TO_SDK

FAULTS = ("crc", "nan", "tick_frozen", "tick_jump", "tick_backwards", "quaternion", "joint_range", "joint_velocity",
          "gyro")

#: Go2 wireless remote key bits, bit ``i`` of the little-endian uint16 at bytes 2..3 of the 40-byte
#: ``wireless_remote`` blob (Unitree's ``xRockerBtnDataStruct``: head[2] u8, then the ``xKeySwitchUnion`` bitfield
#: R1, L1, start, select, R2, L2, F1, F2, A, B, X, Y, up, right, down, left, then lx, rx, ry, L2, ly f32).
REMOTE_KEYS = ("R1", "L1", "start", "select", "R2", "L2", "F1", "F2", "A", "B", "X", "Y", "up", "right", "down",
               "left")
REMOTE_KEY_BIT = {name: 1 << i for i, name in enumerate(REMOTE_KEYS)}
REMOTE_BYTES = 40
REMOTE_KEYS_OFFSET = 2

_TICK_MOD = 1 << 32
_TICK_HALF = 1 << 31
_POLICY_TO_SDK = [int(k) for k in POLICY_TO_SDK]


def remote_key_bits(wireless_remote: bytes | Sequence[int]) -> int:
    """The 16-bit key field of a 40-byte ``wireless_remote`` blob (bit ``i`` = ``REMOTE_KEYS[i]`` pressed)."""
    if len(wireless_remote) != REMOTE_BYTES:
        raise ValueError(f"wireless_remote must be {REMOTE_BYTES} bytes, got {len(wireless_remote)}")
    return int(wireless_remote[REMOTE_KEYS_OFFSET]) | (int(wireless_remote[REMOTE_KEYS_OFFSET + 1]) << 8)


def decode_remote_keys(wireless_remote: bytes | Sequence[int]) -> frozenset[str]:
    """Names of the buttons pressed in a 40-byte ``wireless_remote`` blob (see :data:`REMOTE_KEYS`)."""
    bits = remote_key_bits(wireless_remote)
    return frozenset(name for name, bit in REMOTE_KEY_BIT.items() if bits & bit)


def encode_remote_keys(pressed: Sequence[str] = ()) -> bytes:
    """A 40-byte ``wireless_remote`` blob with ``pressed`` buttons held and the sticks centred (tests, fakes)."""
    bits = remote_key_mask(pressed, "pressed")
    blob = bytearray(REMOTE_BYTES)
    blob[REMOTE_KEYS_OFFSET], blob[REMOTE_KEYS_OFFSET + 1] = bits & 0xFF, bits >> 8
    return bytes(blob)


def remote_key_mask(names: Sequence[str], what: str = "lowstate_check.remote_estop") -> int:
    """OR of the key bits of ``names``; unknown names -> :class:`ConfigError` listing the valid ones."""
    unknown = [n for n in names if n not in REMOTE_KEY_BIT]
    if unknown:
        raise ConfigError(f"{what}: unknown remote button(s) {unknown}; valid names are {list(REMOTE_KEYS)}")
    mask = 0
    for n in names:
        mask |= REMOTE_KEY_BIT[n]
    return mask


@dataclass
class LowStateCheckConfig:
    """Lowstate validation thresholds. Units: tick counts (ms on the Go2), rad, rad/s."""

    check_crc: bool = True  # verify the CRC of messages that carry a non-zero crc
    max_tick_step: int = 50  # largest accepted tick increment between consecutive messages (Go2: normally 2)
    tick_rate_hz: float = 1000.0  # ticks per second of the robot's counter; 0 = ignore receive times
    frozen_tick_messages: int = 5  # this many consecutive messages with the same tick = frozen
    quat_norm_tol: float = 0.05  # accepted | |quat| - 1 |
    joint_limit_margin: float = 0.1  # rad beyond the hardware joint range still accepted
    max_joint_velocity: float = 40.0  # rad/s, per joint
    max_gyro: float = 30.0  # rad/s, per gyroscope axis
    remote_estop: list[str] = field(default_factory=lambda: ["L2", "B"])  # held together = e-stop; [] = off

    def __post_init__(self) -> None:
        if not isinstance(self.check_crc, bool):
            raise ConfigError(f"lowstate_check.check_crc must be true or false, got {self.check_crc!r}")
        for name, low in (("max_tick_step", 1), ("frozen_tick_messages", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"lowstate_check.{name} must be an integer >= {low}, got {value!r}")
        for name in ("quat_norm_tol", "max_joint_velocity", "max_gyro"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"lowstate_check.{name} must be a finite number > 0, got {value!r}")
        for name, unit in (("tick_rate_hz", "ticks per second"), ("joint_limit_margin", "rad")):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"lowstate_check.{name} must be a finite number >= 0 ({unit}), got {value!r}")
        if isinstance(self.remote_estop, str) or not isinstance(self.remote_estop, (list, tuple)):
            raise ConfigError(f"lowstate_check.remote_estop must be a list of button names, got {self.remote_estop!r}")
        remote_key_mask(self.remote_estop)

    @classmethod
    def from_mapping(cls, data: Mapping | None) -> LowStateCheckConfig:
        return dataclass_from_mapping(cls, data, "lowstate_check")

    @classmethod
    def from_yaml(cls, path: str | Path, section: str | None = "lowstate_check") -> LowStateCheckConfig:
        return cls.from_mapping(load_yaml_mapping(path, section))


@dataclass(slots=True)
class LowStateSample:
    """What the validator reads from one lowstate. Joint arrays in *policy order*.

    tick: the robot's uint32 tick. crc_ok: CRC verdict, ``None`` when the message carries no crc (or it was not
    checked). quat: ``[4]`` (w, x, y, z). q: ``[12]`` rad. dq: ``[12]`` rad/s. gyro: ``[3]`` rad/s.
    wireless_remote: the 40-byte remote blob, or ``None``. received_at: when the message arrived (monotonic s), or
    ``None``.
    """

    tick: int
    crc_ok: bool | None
    quat: Sequence[float]
    q: Sequence[float]
    dq: Sequence[float]
    gyro: Sequence[float]
    wireless_remote: bytes | Sequence[int] | None = None
    received_at: float | None = None


def sample_from_lowstate(msg, check_crc: bool = True, received_at: float | None = None) -> LowStateSample:
    """Read a :class:`LowStateSample` from an SDK ``LowState_`` or a :class:`maa_deploy.unitree_wire.LowState`.

    The CRC is verified (about 15 µs) when ``check_crc`` and ``msg.crc != 0``; otherwise ``crc_ok`` is ``None``.
    Joint values are reordered from SDK motor order to policy order. ``received_at``: monotonic s, see
    :class:`LowStateSample`.
    """
    crc_ok = None
    if check_crc and msg.crc:
        crc_ok = unitree_wire.lowstate_crc(msg) == msg.crc
    motors = msg.motor_state
    imu = msg.imu_state
    return LowStateSample(tick=msg.tick, crc_ok=crc_ok, quat=imu.quaternion,
                          q=[motors[k].q for k in _POLICY_TO_SDK], dq=[motors[k].dq for k in _POLICY_TO_SDK],
                          gyro=imu.gyroscope, wireless_remote=msg.wireless_remote, received_at=received_at)


@dataclass(slots=True)
class LowStateVerdict:
    """Result of one check. ``ok``: no fault. ``fault``: one of :data:`FAULTS` or ``None``. ``detail``: what was
    wrong, with the numbers. ``estop``: the remote e-stop combination is held (independent of ``ok``)."""

    ok: bool
    fault: str | None = None
    detail: str = ""
    estop: bool = False


class LowStateValidator:
    """Stateful per-message lowstate check (tick continuity needs the previous message). Not thread-safe: call it
    from one thread (the lowstate callback).

    Attributes:
        counters: ``{fault: count}`` for every name in :data:`FAULTS`.
        messages: number of messages checked.
    """

    def __init__(self, config: LowStateCheckConfig | None = None):
        self.config = config or LowStateCheckConfig()
        cfg = self.config
        self._estop_mask = remote_key_mask(cfg.remote_estop)
        self._lower = [float(v) - cfg.joint_limit_margin for v in JOINT_LOWER]
        self._upper = [float(v) + cfg.joint_limit_margin for v in JOINT_UPPER]
        self.counters: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.messages = 0
        self.reset()

    def reset(self) -> None:
        """Forget the previous tick (the next message only seeds it); counters are kept."""
        self._prev_tick: int | None = None
        self._lead_ref: float | None = None  # highest tick - tick_rate_hz * received_at seen, see tick_jump
        self._same_tick = 0

    def estop_pressed(self, wireless_remote: bytes | Sequence[int] | None) -> bool:
        """True when every button of ``remote_estop`` is held (always False when it is empty or there is no blob)."""
        mask = self._estop_mask
        if not mask or wireless_remote is None:
            return False
        return remote_key_bits(wireless_remote) & mask == mask

    def check_message(self, msg) -> LowStateVerdict:
        """:meth:`check` of :func:`sample_from_lowstate` ``(msg)`` (SDK ``LowState_`` or ``unitree_wire.LowState``)."""
        return self.check(sample_from_lowstate(msg, self.config.check_crc))

    def check(self, sample: LowStateSample) -> LowStateVerdict:
        """Validate one lowstate; see the module docstring for the faults and their order."""
        self.messages += 1
        estop = self.estop_pressed(sample.wireless_remote)
        fault, detail = self._find_fault(sample)
        if fault is None:
            return LowStateVerdict(True, None, "", estop)
        self.counters[fault] += 1
        return LowStateVerdict(False, fault, detail, estop)

    # ------------------------------------------------------------------------------------------------ internals
    def _find_fault(self, s: LowStateSample) -> tuple[str | None, str]:
        cfg = self.config
        if s.crc_ok is False and cfg.check_crc:
            return "crc", f"crc mismatch (tick {s.tick})"
        quat, q, dq, gyro = s.quat, s.q, s.dq, s.gyro
        qw, qx, qy, qz = (float(v) for v in quat)
        gx, gy, gz = (float(v) for v in gyro)
        q = [float(v) for v in q]
        dq = [float(v) for v in dq]
        if len(q) != NUM_JOINTS or len(dq) != NUM_JOINTS:
            raise ValueError(f"q and dq need {NUM_JOINTS} values, got {len(q)} and {len(dq)}")
        # a sum of finite float32-range values is finite; NaN/inf anywhere makes it non-finite
        # every CRC-valid message moves the tick, even a faulty one
        tick_fault = self._check_tick(int(s.tick), s.received_at)
        if not math.isfinite(qw + qx + qy + qz + gx + gy + gz + sum(q) + sum(dq)):
            return "nan", self._nan_detail(quat, q, dq, gyro)
        if tick_fault is not None:
            return tick_fault
        norm = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        if abs(norm - 1.0) > cfg.quat_norm_tol:
            return "quaternion", (f"quaternion norm {norm:.4f} (w, x, y, z = {qw:.4f}, {qx:.4f}, {qy:.4f}, {qz:.4f}), "
                                  f"tolerance {cfg.quat_norm_tol}")
        lower, upper = self._lower, self._upper
        for i in range(NUM_JOINTS):
            if not lower[i] <= q[i] <= upper[i]:
                return "joint_range", (f"{JOINT_NAMES[i]} q={q[i]:.4f} rad outside [{lower[i]:.4f}, {upper[i]:.4f}] "
                                       f"(hardware range +- {cfg.joint_limit_margin} rad)")
        vmax = cfg.max_joint_velocity
        for i in range(NUM_JOINTS):
            if abs(dq[i]) > vmax:
                return "joint_velocity", f"{JOINT_NAMES[i]} dq={dq[i]:.3f} rad/s, limit {vmax}"
        gmax = cfg.max_gyro
        if abs(gx) > gmax or abs(gy) > gmax or abs(gz) > gmax:
            return "gyro", f"gyroscope ({gx:.3f}, {gy:.3f}, {gz:.3f}) rad/s, limit {gmax} per axis"
        return None, ""

    def _check_tick(self, tick: int, received_at: float | None) -> tuple[str, str] | None:
        prev = self._prev_tick
        self._prev_tick = tick
        rate = self.config.tick_rate_hz
        timed = received_at is not None and rate > 0
        if prev is None:
            self._same_tick = 1
            self._lead_ref = tick - rate * received_at if timed else None
            return None
        step = (tick - prev) % _TICK_MOD
        if step == 0:
            self._same_tick += 1
            if self._same_tick >= self.config.frozen_tick_messages:
                return "tick_frozen", f"tick {tick} repeated in {self._same_tick} consecutive messages"
            return None
        self._same_tick = 1
        if step >= _TICK_HALF:
            return "tick_backwards", f"tick went back by {_TICK_MOD - step} ({prev} -> {tick})"
        limit = self.config.max_tick_step
        if not timed or self._lead_ref is None:  # no clock reference yet: judge the step alone
            self._lead_ref = tick - rate * received_at if timed else None
            if step > limit:
                return "tick_jump", f"tick advanced by {step} ({prev} -> {tick}), limit {limit}"
            return None
        # this message's lead over the reference, modulo 2**32 into [-2**31, 2**31): the uint32 wrap is no jump
        ahead = (tick - rate * received_at - self._lead_ref) % _TICK_MOD
        ahead = ahead - _TICK_MOD if ahead >= _TICK_HALF else ahead
        if ahead > limit:
            return "tick_jump", (f"tick advanced by {step} ({prev} -> {tick}), {ahead:.0f} ticks ahead of the clock "
                                 f"(limit {limit} at {rate:g} ticks/s)")
        self._lead_ref += max(0.0, ahead)
        return None

    @staticmethod
    def _nan_detail(quat, q, dq, gyro) -> str:
        bad = []
        for name, values in (("quat", quat), ("q", q), ("dq", dq), ("gyro", gyro)):
            arr = np.asarray(values, dtype=np.float64)
            idx = np.flatnonzero(~np.isfinite(arr))
            if idx.size:
                bad.append(f"{name}[{', '.join(str(int(i)) for i in idx)}] = {arr[idx].tolist()}")
        return "non-finite " + "; ".join(bad)
