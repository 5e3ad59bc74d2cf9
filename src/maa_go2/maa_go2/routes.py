"""Routes for a walking Go2: waypoints and a follower that turns them into ``cmd_vel`` commands.

Used by ``make demo`` (a square walked through the deploy node's ``/cmd_vel``) and usable by any operator tool; the
simulated scenarios use the same :class:`~maa_go2.scenarios.PursuitController`.
"""
from __future__ import annotations

import numpy as np

from maa_go2.scenarios import PursuitController


def square(side: float = 1.5, start=(0.0, 0.0), heading: float = 0.0, laps: int = 1) -> np.ndarray:
    """``[4 * laps, 2]`` corners of a square of ``side`` [m] walked counter-clockwise from ``start`` [m], whose
    first edge points along ``heading`` [rad]; the last corner is ``start``."""
    if side <= 0 or laps < 1:
        raise ValueError(f"square: need side > 0 and laps >= 1, got {side}, {laps}")
    c, s = np.cos(heading), np.sin(heading)
    local = np.array([[side, 0.0], [side, side], [0.0, side], [0.0, 0.0]])
    world = local @ np.array([[c, s], [-s, c]]) + np.asarray(start, dtype=np.float64)
    return np.tile(world, (laps, 1))


class RouteFollower:
    """Follows ``waypoints`` in order; :meth:`command` gives ``(vx, vy, yaw rate)`` for one robot pose."""

    def __init__(self, waypoints: np.ndarray, radius: float = 0.25, controller: PursuitController | None = None):
        self.waypoints = np.asarray(waypoints, dtype=np.float64)
        if self.waypoints.ndim != 2 or self.waypoints.shape[1] != 2 or not len(self.waypoints):
            raise ValueError(f"waypoints must be [K, 2] with K >= 1, got shape {list(self.waypoints.shape)}")
        self.radius = radius
        self.controller = controller or PursuitController(max_speed=0.6)
        self.index = 0

    @property
    def done(self) -> bool:
        return self.index >= len(self.waypoints)

    def command(self, xy, yaw: float) -> tuple[float, float, float]:
        """Advance past reached waypoints, then steer toward the next one; zeros once the route is done."""
        xy = np.asarray(xy, dtype=np.float64)
        while not self.done and np.linalg.norm(self.waypoints[self.index] - xy) < self.radius:
            self.index += 1
        if self.done:
            return 0.0, 0.0, 0.0
        cmd = self.controller.command(xy[None], np.array([yaw]), self.waypoints[self.index][None])[0]
        return float(cmd[0]), float(cmd[1]), float(cmd[2])
