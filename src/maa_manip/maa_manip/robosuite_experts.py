"""Scripted experts for the robosuite tasks of :mod:`maa_manip.robosuite_env` (for DAgger labelling).

Each expert is a pure function of the state (no access to a live simulation), so recorded states can be labelled
after the fact with ``expert.get_action(state) -> action``, in either layout of :mod:`maa_manip.robosuite_env`:

* ``osc``: the grip-site pose is in the state; the desired end-effector displacement (m) and rotation (axis-angle,
  rad) are commanded directly, scaled by the ``OSC_POSE`` controller's output range (0.05 m, 0.5 rad per unit).
* ``joint``: the arm joint angles are recovered from the state (``atan2(sin, cos)``); the expert's own kinematic
  model (a copy of the ``MjModel`` of one robosuite env of the same task and robot) gives the grip-site pose and its
  6x7 Jacobian, and a damped-least-squares step maps the desired displacement to joint deltas (rad), divided by the
  ``JOINT_POSITION`` controller's output scale (0.05 rad per unit action).

Actions are clipped to ``[-1, 1]``. Gripper: ``-1`` opens, ``+1`` closes.

The phases of each task are decided from the state only (positions and gripper opening), like MetaWorld's
scripted policies:

* Lift: above the cube (gripper open, yaw aligned with a cube face) -> descend -> close -> lift.
* Door (latched): above the handle tip (fingers closing along the door normal, tilted towards the door) ->
  descend -> close -> press the lever down along its arc until the latch clears -> pull along the door's arc.
* NutAssemblySingle (square or round nut, ``nut_id`` in the state): above the handle (fingers across it) ->
  descend -> close -> lift the nut just above the pegs -> carry it over its peg while turning it (handle towards
  the robot, square nut parallel to its square peg) -> let go within a few mm of the peg's axis -> rise.

Measured, ``joint`` layout (500-step episodes, ``init_mode="random"``, seeds 0-9): Lift Panda and Sawyer, Door Panda
succeed; Door on Sawyer does not (the lever stops near 1.0 rad, short of unlatching). NutAssemblySingle on Panda
(``init_mode="fixed"``, seeds 0-9): 9 of 10, in 373-490 steps (the one miss: a square nut still held at the end).
``osc`` layout, 250 steps, random configurations 0-9 (``bench/robosuite_experts.py``): Lift 10/10 on Panda and Sawyer,
NutAssemblySingle 9/10 on both, Door 10/10 on both (one gripper tilt for both arms, 0.5 rad).
"""
from __future__ import annotations

import copy

import numpy as np

from maa_manip.envs import EnvError
from maa_manip.robosuite_env import ROBOTS, control_spec, gripper_opening_range

EXPERT_TASKS = ("Lift", "Door", "NutAssemblySingle")
# Door geometry (robosuite ``door_lock.xml``, in the door body's frame): latch axis, handle-site offset from the
# latch axis (m), and the hinge axis.
_LATCH = np.array([-0.175, 0.0, -0.025])
_HANDLE_R, _HANDLE_Y = 0.125, -0.10
_HINGE_X = 0.255
_UNLATCH = 1.1  # rad of handle rotation after which the latch tip (nearly) clears the frame
_DOOR_OFFSET = 0.01  # m
# rad: gripper tilt towards the door while holding the lever, per control layout. Sawyer's wrist (link 6) hits the
# lever's base at 0.3 rad and the lever stalls short of unlatching (~1.08 rad). At 0.5 rad both arms open the door
# (osc, 10 random configurations: Panda 10/10, Sawyer 10/10; Sawyer 8/10 at 0.6), so the Panda zoo's demonstrations
# carry a grasp that also works on Sawyer. The joint layout keeps the first zoo's 0.3.
_DOOR_TILT = {"osc": 0.5, "joint": 0.3}
_EZ = np.array([0.0, 0.0, 1.0])
# NutAssembly geometry (robosuite ``nut_assembly``): handle-site offset along the nut's x axis (m) by ``nut_id``
# (0 square, 1 round), each nut's peg (x, y) (peg1 square, peg2 round; the pegs' tops are at z 0.95 m), the height
# the nut's centre is carried at over the pegs (it is dropped from there), and below which height it is around its peg.
_NUT_HANDLE = (0.054, 0.06)
_NUT_PEG = (np.array([0.23, 0.10]), np.array([0.23, -0.10]))
_NUT_CARRY_Z, _NUT_AROUND_Z = 0.985, 0.94
_NUT_CARRY_YAWS = (np.pi / 2, np.pi, -np.pi / 2)  # rad: the nut's yaw while it is carried (see RobosuiteExpert._nut)
# A nut is let go when its centre is this close to its peg's axis (m) and its yaw this close to its carry yaw (rad), by
# nut_id: the square nut's hole leaves 6.75 mm per side around its square peg (less when turned); the round nut turns
# freely on its round peg. The windows are as wide as the expert still succeeds with (bench/robosuite_experts.py, 20
# random configurations, 250 steps: Panda 20/20, Sawyer 17/20; the earlier 4 mm / 0.05 rad and 12 mm / 0.05 rad:
# Panda 18/20, Sawyer 17/20): a DAgger student reached the square nut's window (2-4 mm, 0.05 rad) but never let go,
# since only a few frames in it carried the "open" label
_NUT_DROP_XY = (0.009, 0.02)
_NUT_DROP_TURN = (0.2, np.pi)
# Finger opening ``qpos[0] - qpos[1]`` (m) below which a commanded close holds an object 3-4.4 cm wide (fully
# open: Panda 0.078, Sawyer's Rethink gripper 0.021; closed on a 4.2 cm cube: Panda ~0.042, Sawyer ~0.006).
_GRASP_OPENING = {"Panda": 0.05, "Sawyer": 0.012}
# Nominal gripper-down grip-site frame for Panda and Sawyer (columns: site x = finger closing axis, y, z).
_R_DOWN = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
# Commanded multiple of the per-step Cartesian error, by layout (the controllers lag behind their goals).
_GAIN = {"joint": 3.0, "osc": 2.0}


def _rot_z(phi: float) -> np.ndarray:
    c, s = np.cos(phi), np.sin(phi)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _quat_yaw(quat: np.ndarray) -> float:
    """Yaw (rad) of a robosuite quaternion ``(x, y, z, w)``."""
    x, y, z, w = quat
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def _quat_mat(quat: np.ndarray) -> np.ndarray:
    """Rotation matrix [3, 3] of a robosuite quaternion ``(x, y, z, w)``."""
    x, y, z, w = np.asarray(quat, np.float64) / np.linalg.norm(quat)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _nearest_yaw(phi: float, current: float, period: float) -> float:
    """The angle ``phi + k * period`` closest to ``current`` (rad)."""
    return phi + period * np.round((current - phi) / period)


class _ArmModel:
    """Kinematic model of one robot arm (7 revolute joints) with its grip site.

    Built once from a robosuite env of the same task and robot (the robot base placement depends on the task).
    """

    def __init__(self, task: str, robot: str, control: str = "osc"):
        import mujoco

        from maa_manip.robosuite_env import RobosuiteEnv

        env = RobosuiteEnv(task, robot, init_seed=0, init_mode="fixed", max_steps=2, control=control)
        sim, rob = env._env.sim, env._env.robots[0]
        self.opening_range = gripper_opening_range(robot)  # (closed, open) finger opening, m
        self.model = copy.deepcopy(sim.model._model)
        self.data = mujoco.MjData(self.model)
        jids = [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in rob.robot_joints]
        self.qadr = np.array([self.model.jnt_qposadr[j] for j in jids])
        self.dadr = np.array([self.model.jnt_dofadr[j] for j in jids])
        site = rob.gripper["right"].important_sites["grip_site"]
        self.site = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, site)
        ctrl = rob.part_controllers["right"]
        # rad per unit action (joint) or (m, m, m, rad, rad, rad) per unit action (osc)
        self.scale = np.asarray(ctrl.output_max, np.float64) * np.ones(ctrl.control_dim)
        _, self.base_rot = rob.composite_controller.get_controller_base_pose("right")  # osc actions' frame
        self.q_nom = np.asarray(rob.init_qpos, np.float64)
        # Sawyer's first joint rests in contact with its base geom (robot0_link0_collision / robot0_base_col): the
        # contact's friction cancels the controller torque (~15 N m at action 1), so its expert does not use it.
        self.mobile = np.ones(7, bool)
        if robot == "Sawyer":
            self.mobile[0] = False
        self._mj = mujoco
        del env

    def pose_jac(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint angles [7] (rad) -> grip-site position [3] (m), rotation [3, 3], Jacobian [6, 7]."""
        mj, m, d = self._mj, self.model, self.data
        d.qpos[self.qadr] = q
        mj.mj_kinematics(m, d)
        mj.mj_comPos(m, d)
        jp, jr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        mj.mj_jacSite(m, d, jp, jr, self.site)
        jac = np.vstack([jp[:, self.dadr], jr[:, self.dadr]])
        return d.site_xpos[self.site].copy(), d.site_xmat[self.site].reshape(3, 3).copy(), jac


class RobosuiteExpert:
    """Scripted expert for one robosuite task and robot: ``get_action(state [o]) -> action [a]``.

    Args:
        task: one of ``EXPERT_TASKS``; robot: ``Panda`` or ``Sawyer``; control: the layout (``osc`` / ``joint``).
        gain: commanded multiple of the per-step Cartesian error (the controllers lag behind their goals).
    """

    max_step = 0.04  # m of commanded end-effector displacement per step
    max_rot = 0.3  # rad of commanded orientation correction per step

    def __init__(self, task: str, robot: str, gain: float | None = None, control: str = "osc"):
        self.spec = control_spec(control)
        self.task, self.robot = task, robot
        self.gain = float(gain if gain is not None else _GAIN[control])
        self.arm = _ArmModel(task, robot, control)

    # ------------------------------------------------------------------ control
    def _limit(self, dpos: np.ndarray, rot: np.ndarray, r_des: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Desired displacement [3] (m) and rotation [3, 3] -> bounded displacement and rotation vector [3] (rad)."""
        n = np.linalg.norm(dpos)
        if n > self.max_step:
            dpos = dpos * (self.max_step / n)
        drot = 0.5 * sum(np.cross(rot[:, i], r_des[:, i]) for i in range(3))
        n = np.linalg.norm(drot)
        if n > self.max_rot:
            drot = drot * (self.max_rot / n)
        return dpos, drot

    @staticmethod
    def _unit(a: np.ndarray) -> np.ndarray:
        m = np.max(np.abs(a))
        return a / m if m > 1.0 else a

    def _osc_action(self, rot: np.ndarray, dpos: np.ndarray, r_des: np.ndarray) -> np.ndarray:
        """Desired site displacement [3] (m) and rotation [3, 3] -> normalized OSC_POSE action [6] in [-1, 1]."""
        dpos, drot = self._limit(dpos, rot, r_des)
        err = np.concatenate([self.arm.base_rot.T @ dpos, self.arm.base_rot.T @ drot])
        return self._unit(self.gain * err / self.arm.scale)

    def _joint_action(self, q: np.ndarray, rot: np.ndarray, jac: np.ndarray, dpos: np.ndarray,
                      r_des: np.ndarray) -> np.ndarray:
        """Joint angles [7] with their grip-site rotation [3, 3] and Jacobian [6, 7], desired site displacement [3] (m)
        and rotation [3, 3] -> normalized joint action [7] in [-1, 1]."""
        err = np.concatenate(self._limit(dpos, rot, r_des))
        jac = jac * self.arm.mobile
        pinv = jac.T @ np.linalg.inv(jac @ jac.T + 1e-3 * np.eye(6))  # damped least squares
        dq = pinv @ err
        dq += 0.1 * ((np.eye(7) - pinv @ jac) @ (self.arm.q_nom - q)) * self.arm.mobile
        return self._unit(self.gain * dq / self.arm.scale)

    @staticmethod
    def _site_yaw(rot: np.ndarray) -> float:
        """Yaw (rad) of the finger-closing axis (grip-site x) projected on the horizontal plane."""
        return float(np.arctan2(rot[1, 0], rot[0, 0]))

    # ------------------------------------------------------------------ API
    def get_action(self, state: np.ndarray) -> np.ndarray:
        """State of the expert's layout (see :mod:`maa_manip.robosuite_env`) -> action in [-1, 1] (arm, gripper)."""
        spec = self.spec
        s = np.asarray(state, np.float64)
        if s.shape != (spec.obs_dim,):
            raise EnvError(f"{self.task} expert ({spec.name} layout): expected a state of shape [{spec.obs_dim}], "
                           f"got {list(s.shape)}")
        if not np.all(np.isfinite(s)):
            raise EnvError(f"{self.task} expert: state has non-finite values")
        task = s[spec.task_slice]
        if spec.name == "osc":
            eef, rot = s[0:3], _quat_mat(s[3:7])
            closed, opened = self.arm.opening_range
            opening = closed + float(s[7]) * (opened - closed)
        else:
            q = np.arctan2(s[7:14], s[0:7])
            eef, opening = s[21:24], float(s[28] - s[29])
            _, rot, jac = self.arm.pose_jac(q)
        plan = {"Lift": self._lift, "Door": self._door, "NutAssemblySingle": self._nut}[self.task]
        target, r_des, grip = plan(task, eef, opening, rot)
        out = np.zeros(spec.act_dim)
        if spec.name == "osc":
            out[:6] = self._osc_action(rot, target - eef, r_des)
        else:
            out[:7] = self._joint_action(q, rot, jac, target - eef, r_des)
        out[-1] = grip
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    # ------------------------------------------------------------------ tasks
    def _lift(self, t: np.ndarray, eef: np.ndarray, opening: float, rot: np.ndarray):
        """Lift phases (``t``: the 11 task values) -> (target site position [3] (m), rotation [3, 3], gripper)."""
        cube = t[0:3]
        cube_yaw = _quat_yaw(t[3:7])
        cur_yaw = self._site_yaw(rot)
        yaw = _nearest_yaw(cube_yaw, cur_yaw, np.pi / 2)
        r_des = _rot_z(yaw - np.pi / 2) @ _R_DOWN
        rel = cube - eef
        dxy, dz = np.linalg.norm(rel[:2]), rel[2]
        if dxy < 0.02 and abs(dz) < 0.02:  # at the cube: close, then lift once the fingers hold it
            if opening < self._grasp_opening():
                return eef + np.array([0.0, 0.0, 0.05]), r_des, 1.0
            return cube, r_des, 1.0
        if dxy < 0.012 and abs(yaw - cur_yaw) < 0.15:  # above the cube, aligned: descend with the gripper open
            return cube, r_des, -1.0
        return cube + np.array([0.0, 0.0, 0.08 if dxy > 0.04 else 0.04]), r_des, -1.0

    def _grasp_opening(self) -> float:
        return _GRASP_OPENING[self.robot]

    def _door(self, t: np.ndarray, eef: np.ndarray, opening: float, rot: np.ndarray):
        """Door phases (``t``: the 11 task values) -> (target site position [3] (m), rotation [3, 3], gripper).

        The fingers straddle the lever (closing along the door normal, so the lever can turn in the grasp). The
        hand is wider than the 8 cm gap between lever and panel, so the grip site is offset ``_DOOR_OFFSET`` m
        away from the door and the gripper is tilted ``_DOOR_TILT[control]`` rad with its fingers pointing towards the
        door.
        """
        handle, door, hinge, hq = t[0:3], t[6:9], float(t[9]), float(t[10])
        hx = _LATCH[0] + _HANDLE_R * np.cos(hq)
        v = handle[:2] - door[:2]
        psi = np.arctan2(v[1], v[0]) - np.arctan2(_HANDLE_Y, hx)  # door body yaw, hinge included
        rz = _rot_z(psi)
        normal = rz[:, 1]  # horizontal, from the lever towards the door panel
        tilt = _DOOR_TILT[self.spec.name]
        approach = -np.cos(tilt) * _EZ + np.sin(tilt) * normal
        close_ax = np.cos(tilt) * normal + np.sin(tilt) * _EZ
        if close_ax @ rot[:, 0] < 0:
            close_ax = -close_ax
        r_des = np.column_stack([close_ax, np.cross(approach, close_ax), approach])
        aligned = np.linalg.norm(rot - r_des) < 0.15
        grasp = handle - _DOOR_OFFSET * normal
        rel = grasp - eef
        near = np.linalg.norm(rel) < 0.02
        held = np.linalg.norm(rel) < 0.04 and opening < _GRASP_OPENING[self.robot]
        if held or hinge > 0.05:
            if hq < _UNLATCH and hinge < 0.05:  # press the lever down along its arc
                r = handle - (door + rz @ _LATCH)
                tan = np.cross(normal, r)
                tan = tan if tan[2] < 0 else -tan
                return grasp + 0.04 * tan / (np.linalg.norm(tan) + 1e-9), r_des, 1.0
            r = handle - (door + rz @ np.array([_HINGE_X, 0.0, 0.0]))
            pull = np.array([-r[1], r[0], 0.0])  # tangent of the door's arc (positive hinge angle)
            return grasp + 0.04 * pull / (np.linalg.norm(pull) + 1e-9) - 0.01 * _EZ, r_des, 1.0
        if near:
            return grasp, r_des, 1.0
        if np.linalg.norm(rel[:2]) < 0.012 and aligned:
            return grasp, r_des, -1.0
        return grasp + 0.08 * _EZ, r_des, -1.0

    def _nut(self, t: np.ndarray, eef: np.ndarray, opening: float, rot: np.ndarray):
        """NutAssemblySingle phases (``t``: the 11 task values) -> (target site position [3] (m), rotation [3, 3],
        gripper).

        Grasp the nut's handle with the fingers closing across it, lift the nut's centre to ``_NUT_CARRY_Z`` (just
        above the peg's top), carry it over its peg and let go: it drops around the peg. Then rise (success needs the
        hand away from the nut).
        """
        nut, nut_yaw, nut_id = t[0:3], _quat_yaw(t[3:7]), int(round(float(t[10])))
        handle = nut + _NUT_HANDLE[nut_id] * np.array([np.cos(nut_yaw), np.sin(nut_yaw), 0.0])
        peg = _NUT_PEG[nut_id]
        to_peg = np.linalg.norm(nut[:2] - peg)
        cur_yaw = self._site_yaw(rot)
        yaw = _nearest_yaw(nut_yaw + np.pi / 2, cur_yaw, np.pi)  # fingers close across the handle bar
        r_des = _rot_z(yaw - np.pi / 2) @ _R_DOWN
        if to_peg < 0.02 and nut[2] < _NUT_AROUND_Z:  # around its peg: let go and move away
            return eef + np.array([0.0, 0.0, 0.1]), r_des, -1.0
        rel = handle - eef
        held = np.linalg.norm(rel) < 0.03 and opening < self._grasp_opening()
        if held:
            # The nut turns with the hand. Turn it so that its handle does not point away from the robot (the hand
            # would have to reach past the peg, beyond the arm's reach) and the square nut's sides are parallel to
            # its square peg's: nut yaw 90, 180 or -90 deg, whichever is nearest.
            turn = min((np.angle(np.exp(1j * (goal - nut_yaw))) for goal in _NUT_CARRY_YAWS), key=abs)
            r_des = _rot_z(cur_yaw + turn - np.pi / 2) @ _R_DOWN
            lift = max(0.0, _NUT_CARRY_Z - nut[2])
            d = peg - nut[:2]  # commanded at least 2 cm: smaller joint steps stall in the joints' friction
            move = np.append(d * max(1.0, 0.02 / (np.linalg.norm(d) + 1e-9)), 0.0) if nut[2] > _NUT_CARRY_Z - 0.03 \
                else np.zeros(3)
            # over the peg and turned: let go while still moving towards its axis (stopping would pull the hand
            # back out of the window, and the gripper would never open)
            drop = to_peg < _NUT_DROP_XY[nut_id] and abs(turn) < _NUT_DROP_TURN[nut_id]
            return eef + move + lift * _EZ, r_des, -1.0 if drop else 1.0
        if np.linalg.norm(rel[:2]) < 0.01 and abs(rel[2]) < 0.015:  # at the handle: close
            return handle, r_des, 1.0
        if np.linalg.norm(rel[:2]) < 0.01 and abs(yaw - cur_yaw) < 0.15:
            return handle, r_des, -1.0
        return handle + np.array([0.0, 0.0, 0.08 if np.linalg.norm(rel[:2]) > 0.03 else 0.04]), r_des, -1.0


def robosuite_expert(task: str, robot: str, control: str = "osc") -> RobosuiteExpert:
    """Scripted expert for ``task`` on ``robot`` in layout ``control`` (``get_action(state [o]) -> action [a]``)."""
    if task not in EXPERT_TASKS:
        raise EnvError(f"no scripted robosuite expert for task {task!r}; expected one of {EXPERT_TASKS}")
    if robot not in ROBOTS:
        raise EnvError(f"unknown robot {robot!r}; expected one of {ROBOTS}")
    return RobosuiteExpert(task, robot, control=control)
