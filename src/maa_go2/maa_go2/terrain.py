"""The "mat" slalom course of the Go2 scenarios: a patch of uneven, softer ground with obstacles on it.

The paper's real-world obstacle task walks the Go2 around objects on a foam mat. Here the mat is a MuJoCo height
field (bumps up to ``bump_height``, default 3 cm) with a softer contact (``solref`` time constant 0.04 s instead of
the floor's 0.02 s), and the obstacles are fixed cylinders standing on it. Waypoints weave between them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from maa_go2.engines.mujoco_engine import check_joint_order, go2_xml_path

#: the Go2's body footprint (base + legs) as a rectangle in the base frame, half-lengths [m]: 0.7 m x 0.31 m
FOOTPRINT_HALF = (0.35, 0.155)


@dataclass
class MatCourse:
    """Course geometry in the world frame (the robot starts at the origin facing +x). Lengths in m."""

    mat_start_x: float = 0.4
    mat_length: float = 7.0
    mat_width: float = 3.0
    bump_height: float = 0.03  #: height-field relief [m]
    grid: int = 70  #: height-field samples along the mat's length (across it: in proportion)
    soft_timeconst: float = 0.04  #: contact stiffness of the mat (the floor uses 0.02 s)
    obstacle_radius: float = 0.12
    obstacles: list[list[float]] = field(default_factory=lambda: [[1.8, 0.0], [3.4, 0.0], [5.0, 0.0]])
    waypoints: list[list[float]] = field(default_factory=lambda: [[1.8, 0.65], [3.4, -0.65], [5.0, 0.65],
                                                                   [6.4, 0.0]])
    waypoint_radius: float = 0.3  #: a waypoint counts as reached within this distance [m]
    time_limit_s: float = 30.0

    def __post_init__(self) -> None:
        if not (self.mat_length > 0 and self.mat_width > 0 and 0 <= self.bump_height <= 0.1):
            raise ValueError(f"course: need positive mat size and 0 <= bump_height <= 0.1 m, got "
                             f"{self.mat_length} x {self.mat_width}, {self.bump_height}")
        if self.grid < 2:
            raise ValueError(f"course.grid must be >= 2, got {self.grid}")
        if not self.waypoints or any(len(w) != 2 for w in self.waypoints + self.obstacles):
            raise ValueError("course: waypoints (non-empty) and obstacles must be lists of [x, y]")


def course_model(course: MatCourse, seed: int = 0) -> mujoco.MjModel:
    """The Go2 MJCF plus the mat (height field with ``seed``-drawn bumps) and the obstacle cylinders."""
    spec = mujoco.MjSpec.from_file(go2_xml_path())
    rng = np.random.default_rng(seed)
    nx = course.grid
    ny = max(2, int(round(nx * course.mat_width / course.mat_length)))
    relief = rng.random((ny, nx))
    relief = 0.5 * (relief + np.roll(relief, 1, axis=1))  # smoothed along x: bumps ~2 samples wide
    hfield = spec.add_hfield()
    hfield.name = "mat"
    hfield.nrow, hfield.ncol = ny, nx  # MuJoCo: rows along y, columns along x
    hfield.size = [course.mat_length / 2, course.mat_width / 2, max(course.bump_height, 1e-4), 0.05]
    hfield.userdata = relief.ravel().tolist()
    mat = spec.worldbody.add_geom()
    mat.name, mat.type, mat.hfieldname = "mat", mujoco.mjtGeom.mjGEOM_HFIELD, "mat"
    mat.pos = [course.mat_start_x + course.mat_length / 2, 0.0, 0.0]
    mat.contype, mat.conaffinity, mat.condim = 0, 1, 3
    mat.solref = [course.soft_timeconst, 1.0]
    mat.rgba = [0.35, 0.45, 0.6, 1.0]
    for i, (x, y) in enumerate(course.obstacles):
        ob = spec.worldbody.add_geom()
        ob.name, ob.type = f"obstacle_{i}", mujoco.mjtGeom.mjGEOM_CYLINDER
        ob.size = [course.obstacle_radius, 0.3, 0.0]
        ob.pos = [x, y, 0.3]
        ob.contype, ob.conaffinity = 0, 1
        ob.rgba = [0.85, 0.35, 0.2, 1.0]
    return check_joint_order(spec.compile())


def footprint_hits(xy: np.ndarray, yaw: np.ndarray, course: MatCourse) -> np.ndarray:
    """``[N]`` bool: the body footprint rectangle (:data:`FOOTPRINT_HALF`) overlaps an obstacle's disc.

    Args:
        xy: ``[N, 2]`` base positions [m]; yaw: ``[N]`` base headings [rad].
    """
    hit = np.zeros(len(xy), bool)
    c, s = np.cos(yaw), np.sin(yaw)
    for ox, oy in course.obstacles:
        dx, dy = ox - xy[:, 0], oy - xy[:, 1]
        bx, by = c * dx + s * dy, -s * dx + c * dy  # obstacle centre in the base frame
        nx = np.clip(bx, -FOOTPRINT_HALF[0], FOOTPRINT_HALF[0])
        ny = np.clip(by, -FOOTPRINT_HALF[1], FOOTPRINT_HALF[1])
        hit |= (bx - nx) ** 2 + (by - ny) ** 2 < course.obstacle_radius ** 2
    return hit
