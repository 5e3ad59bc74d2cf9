"""Real-time scheduling for the control thread (Linux ``SCHED_FIFO``), requested best-effort.

A 50 Hz loop under the normal scheduler waits behind every other runnable process on a busy CPU (a generator
sampling, a recorder, a compiler): on the 2-core development machine that cost a missed tick now and then. With
``SCHED_FIFO`` the woken control thread preempts them. It needs root, ``CAP_SYS_NICE`` or an ``rtprio`` limit
(``/etc/security/limits.conf``: ``@realtime - rtprio 90``; docker: ``--cap-add SYS_NICE --ulimit rtprio=90``);
when refused, the thread keeps the normal policy and the caller reports why.
"""
from __future__ import annotations

import os


def check_priority(priority: int, name: str = "real-time priority") -> int:
    """``priority`` if it is 0 (off) or 1-99, else ``ValueError`` naming ``name``."""
    if not 0 <= priority <= 99:
        raise ValueError(f"{name} must be 0 (off) or 1-99, got {priority}")
    return priority


def request_realtime(priority: int) -> str:
    """Give the CALLING thread ``SCHED_FIFO`` at ``priority`` (1-99); 0 leaves scheduling alone.

    Returns a human-readable status for logs and diagnostics: ``"SCHED_FIFO 80"``, ``"SCHED_OTHER (not
    requested)"`` or ``"SCHED_OTHER (SCHED_FIFO 80 refused: ...)"``. Never raises for a refusal.
    """
    if check_priority(priority) == 0:
        return "SCHED_OTHER (not requested)"
    if not hasattr(os, "sched_setscheduler"):
        return f"SCHED_OTHER (SCHED_FIFO {priority} refused: not supported on this OS)"
    try:
        # pid 0 = the calling thread on Linux (scheduling attributes are per thread)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as exc:
        return (f"SCHED_OTHER (SCHED_FIFO {priority} refused: {exc.strerror or exc}; grant CAP_SYS_NICE or an "
                "rtprio limit)")
    return f"SCHED_FIFO {priority}"
