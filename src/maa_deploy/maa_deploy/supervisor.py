"""Watch every thread of the deploy path; a dead or stalled one latches damping and asks the process to exit.

The deploy path has threads that must never die silently: the control loop (:class:`~maa_deploy.loop.DeadlineLoop`),
the backend's own threads (the real robot's 500 Hz ``rt/lowcmd`` publisher and writer watch, the simulator's physics)
and the ROS executor that delivers operator requests. :class:`Supervisor` polls them from a thread of its own:

* control loop thread ended (an exception escaped a tick, kept in ``DeadlineLoop.error``), or no tick for
  ``stall_s`` while the loop should be running;
* a backend thread listed dead in ``backend.health()["threads"]["dead"]``;
* anything else the owner reports through :meth:`Supervisor.report_fatal` (e.g. the ROS executor died).

On the first such event it latches the backend fault (damping frames only), faults the state machine, sets
``controller.fatal`` (``~/start`` is refused from then on) and records :attr:`fatal` and :attr:`fatal_time`; after
``grace_s`` it sets :attr:`exit_requested`, so the node exits non-zero and a launch ``respawn`` or a service manager
restarts it. The supervisor's own errors are caught, counted and treated as fatal.
"""
from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable


class Supervisor:
    """Polls the deploy path every ``period_s``; see the module docstring.

    Args:
        loop: the control :class:`~maa_deploy.loop.DeadlineLoop` (``error``, ``stats.ticks``, ``is_running()``).
        controller: the :class:`~maa_deploy.loop.DeployController` (``backend``, ``sm``, ``fatal``).
        grace_s: seconds between the first fatal event and :attr:`exit_requested`.
        stall_s: a running loop without a tick for this long is stalled (fatal).
        period_s: polling period, s.
        on_fatal: called once with the reason (e.g. to log and publish an ERROR diagnostic).
        clock: monotonic clock, s.
    """

    def __init__(self, loop, controller, grace_s: float = 1.0, stall_s: float = 0.5, period_s: float = 0.02,
                 on_fatal: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        if not (grace_s >= 0 and stall_s > 0 and period_s > 0):
            raise ValueError(f"supervisor needs grace_s >= 0, stall_s > 0, period_s > 0; got {grace_s}, {stall_s}, "
                             f"{period_s}")
        self.loop, self.controller = loop, controller
        self.grace_s, self.stall_s, self.period_s = grace_s, stall_s, period_s
        self.on_fatal, self.clock = on_fatal, clock
        self.fatal: str | None = None
        self.fatal_time: float | None = None
        self.exit_requested = threading.Event()
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ticks = -1
        self._last_progress = clock()

    # ------------------------------------------------------------------ checks
    def check(self) -> str | None:
        """One poll: the reason the deploy path is failing, or None."""
        loop = self.loop
        if loop.error is not None:
            exc = loop.error
            return f"control loop died: {''.join(traceback.format_exception_only(type(exc), exc)).strip()}"
        if loop.started and not loop.is_running() and not loop.stop_requested:
            return "control loop thread ended unexpectedly"
        dead = self.controller.backend.health().get("threads", {}).get("dead", [])
        if dead:
            errors = self.controller.backend.health()["threads"].get("last_error", {})
            return "backend thread(s) died: " + "; ".join(f"{n}: {errors.get(n, '?')}" for n in dead)
        now = self.clock()
        ticks = loop.stats.ticks
        if ticks != self._last_ticks:
            self._last_ticks, self._last_progress = ticks, now
        elif loop.is_running() and now - self._last_progress > self.stall_s:
            return f"control loop stalled: no tick for {(now - self._last_progress) * 1e3:.0f} ms"
        return None

    def report_fatal(self, reason: str) -> None:
        """Damp, latch and start the exit grace period (first reason wins; safe from any thread)."""
        with self._lock:
            first = self.fatal is None
            if first:
                self.fatal, self.fatal_time = reason, self.clock()
        if not first:
            return
        ctl = self.controller
        ctl.fatal = reason
        try:
            ctl.backend.latch_fault(f"fatal: {reason}")
        finally:
            ctl.sm.fault(f"fatal: {reason}")
            if self.on_fatal is not None:
                self.on_fatal(reason)

    def poll(self) -> None:
        """One supervision step (the thread calls this every ``period_s``)."""
        try:
            reason = self.check()
        except Exception as exc:  # noqa: BLE001 - a supervisor that cannot check must fail safe
            self.errors += 1
            reason = f"supervisor error: {exc!r}"
        if reason is not None:
            self.report_fatal(reason)
        if self.fatal_time is not None and self.clock() - self.fatal_time >= self.grace_s:
            self.exit_requested.set()

    # -------------------------------------------------------------- lifecycle
    def start(self) -> threading.Thread:
        """Start polling (again, after :meth:`stop`: a lifecycle re-activation starts with a fresh stall clock)."""
        self._stop.clear()
        self._last_ticks, self._last_progress = -1, self.clock()

        def body() -> None:
            while not self._stop.wait(self.period_s):
                self.poll()

        self._thread = threading.Thread(target=body, name="deploy-supervisor", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
