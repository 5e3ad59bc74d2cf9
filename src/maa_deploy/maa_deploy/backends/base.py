"""The one robot interface the deploy loop talks to (simulation and the real Go2 alike).

All joint arrays are ``[12]`` in policy order (``maa_go2.joint_order``: FL, FR, RL, RR; hip, thigh, calf);
backends convert to their own order internally. Times are ``time.monotonic()`` seconds.
"""
from __future__ import annotations

import abc
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: Damping command gains: kp = 0 and this kd (N·m·s/rad) on every joint.
DEFAULT_DAMPING_KD = 2.0


@dataclass
class RobotState:
    """One measured state.

    Attributes:
        q: ``[12]`` joint positions, rad.
        dq: ``[12]`` joint velocities, rad/s.
        quat: ``[4]`` base orientation (w, x, y, z), world <- body.
        gyro: ``[3]`` base angular velocity in the body frame, rad/s.
        stamp: ``time.monotonic()`` when the state was received/produced, s.
        tau_est: ``[12]`` estimated joint torques, N·m (zeros when unknown).
    """

    q: np.ndarray
    dq: np.ndarray
    quat: np.ndarray
    gyro: np.ndarray
    stamp: float
    tau_est: np.ndarray = field(default_factory=lambda: np.zeros(12))


class FaultLatch:
    """A thread-safe latched fault: once :meth:`latch` is called the robot must be held in damping until an operator
    calls :meth:`clear`. Keeps the first reason while latched."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reason: str | None = None
        self.count = 0

    def latch(self, reason: str) -> bool:
        """Latch ``reason``; returns True if this call latched (False when already latched)."""
        with self._lock:
            self.count += 1
            if self.reason is None:
                self.reason = reason
                return True
            return False

    def clear(self) -> str | None:
        """Clear the latch (explicit operator action); returns the reason that was latched."""
        with self._lock:
            reason, self.reason = self.reason, None
            return reason

    @property
    def latched(self) -> bool:
        return self.reason is not None


class ThreadHealth:
    """Per-thread exception counters and deaths for a backend's own threads.

    ``guard(name, fn)`` wraps a thread body so that any exception is counted, reported to ``on_error`` (which
    must damp), and never escapes silently; a thread that ends by exception is listed in :attr:`dead`.
    """

    def __init__(self) -> None:
        self.errors: dict[str, int] = {}
        self.last_error: dict[str, str] = {}
        self.dead: list[str] = []
        self._lock = threading.Lock()

    def record(self, name: str, exc: BaseException) -> None:
        with self._lock:
            self.errors[name] = self.errors.get(name, 0) + 1
            self.last_error[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()

    def run_guarded(self, name: str, body: Callable[[], None], on_death: Callable[[str], None]) -> None:
        """Run ``body`` (a thread's whole life); an escaping exception marks the thread dead and calls
        ``on_death(reason)`` (which must damp and latch)."""
        try:
            body()
        except BaseException as exc:  # noqa: BLE001 - a dying robot thread must always be reported and damped
            self.record(name, exc)
            with self._lock:
                self.dead.append(name)
            on_death(f"thread {name} died: {self.last_error[name]}")

    def report(self) -> dict:
        with self._lock:
            return {"errors": dict(self.errors), "last_error": dict(self.last_error), "dead": list(self.dead)}


class Backend(abc.ABC):
    """Robot backend. Implementations must make :meth:`damping` safe to call at any time, repeatedly.

    Backends with threads of their own (the real robot's publisher, the simulator's physics) hold a :class:`FaultLatch`
    (:attr:`fault`): a watchdog or a thread error latches it, and from then on every frame sent is damping, whatever
    :meth:`write_command` is asked, until :meth:`clear_fault` (an operator action, e.g. the node's ``~/reset``).
    """

    #: name used in logs and diagnostics
    name: str = "backend"
    #: set by backends that read an e-stop from the robot (the Go2 wireless remote); reported by :meth:`health`
    remote_estop: bool = False

    @property
    def fault(self) -> FaultLatch:
        """The backend's latched fault (lazily created for simple backends that never latch)."""
        latch = self.__dict__.get("_fault_latch")
        if latch is None:
            latch = self.__dict__["_fault_latch"] = FaultLatch()
        return latch

    def latch_fault(self, reason: str) -> None:
        """Latch a fault and damp now."""
        self.fault.latch(reason)
        self.damping()

    def clear_fault(self) -> str | None:
        """Operator action: leave the latched damping (the controller decides what to send next)."""
        return self.fault.clear()

    def health(self) -> dict:
        """``{"fault": reason | None, "threads": {...}, "remote_estop": bool}`` for diagnostics and supervision."""
        threads = self.__dict__.get("threads")
        return {"fault": self.fault.reason, "threads": threads.report() if threads else {},
                "remote_estop": self.remote_estop}

    @abc.abstractmethod
    def read_state(self) -> RobotState:
        """Latest measured state (non-blocking; its ``stamp`` tells how fresh it is)."""

    @abc.abstractmethod
    def write_command(self, q_des: np.ndarray, kp, kd, tau_ff=0.0) -> None:
        """Send a joint PD command: ``tau = kp (q_des - q) + kd (0 - dq) + tau_ff``.

        Args:
            q_des: ``[12]`` rad. kp, kd: scalar or ``[12]``. tau_ff: scalar or ``[12]`` N·m.
        """

    @abc.abstractmethod
    def damping(self) -> None:
        """Command pure damping (kp = 0, kd > 0, no feed-forward) on all joints."""

    def close(self) -> None:
        """Release resources; the last command sent must be damping."""
        self.damping()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
