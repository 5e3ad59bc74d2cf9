"""A faster ``env.step`` for robosuite 1.5 single-arm envs (``JOINT_POSITION`` or ``OSC_POSE`` arm), same results.

Robosuite runs its controller stack in Python at every physics substep (25 per 20 Hz control step): composite
controller, part controllers, reference-site Jacobians, action-limit properties. That is ~70 % of a step here
(20 ms). Between two policy steps the joint-position controller's output depends only on the state, so this stepper

* runs robosuite's own ``_pre_action`` on the first substep of every control step (goals, the gripper's stateful
  action, the robot's history buffers: all exactly as robosuite sets them), and
* on the other substeps computes only the arm torques: ``JOINT_POSITION`` with robosuite's formula and operation
  order (``M(q) @ (kp * (goal - q) - kd * qd) + qfrc_bias``), ``OSC_POSE`` by calling the arm controller's own
  ``run_controller`` after robosuite's origin update (skipping the composite controller's bookkeeping), both clipped
  to the actuators' control range; the gripper's command is constant between policy steps, so ``data.ctrl`` already
  holds it.

Everything else (``step1``/``step2``, observables every substep, reward, success, observations) is robosuite's.
:func:`fast_step_supported` says whether an env is in the supported configuration; ``tests/maa_manip/
test_robosuite_fast.py`` checks bit-identical states, observations and rewards against ``env.step``.
"""
from __future__ import annotations

import mujoco
import numpy as np

_ARM_CONTROLLERS = ("JointPositionController", "OperationalSpaceController")


def fast_step_supported(env) -> str | None:
    """None if :class:`FastStepper` reproduces ``env.step`` for this robosuite env, else the reason it does not."""
    if len(getattr(env, "robots", ())) != 1:
        return "needs exactly one robot"
    if not getattr(env, "lite_physics", False):
        return "needs lite_physics=True (step1/step2 substeps)"
    robot = env.robots[0]
    arms = list(getattr(robot, "arms", ()))
    if arms != ["right"]:
        return f"needs one arm named 'right', got {arms}"
    arm = robot.part_controllers.get("right")
    kind = type(arm).__name__
    if kind not in _ARM_CONTROLLERS:
        return f"needs the JOINT_POSITION or OSC_POSE arm controller, got {kind}"
    interpolators = (arm.interpolator,) if kind == "JointPositionController" else (arm.interpolator_pos,
                                                                                    arm.interpolator_ori)
    if arm.impedance_mode != "fixed" or any(i is not None for i in interpolators) or arm.input_type != "delta":
        return "needs fixed impedance, no interpolator and delta input"
    if kind == "JointPositionController" and not arm.use_torque_compensation:
        return "needs torque compensation"
    if kind == "OperationalSpaceController" and (not isinstance(arm.ref_name, str) or not arm.lite_physics):
        return "needs one reference site and lite physics"
    others = [name for name in robot.part_controllers if name not in ("right", "right_gripper")]
    if others:
        return f"unsupported controlled parts {others}"
    gripper = robot.part_controllers.get("right_gripper")
    if gripper is not None and getattr(gripper, "interpolator", None) is not None:
        return "needs a gripper controller without interpolator"
    return None


class FastStepper:
    """``step(action)`` with the semantics of robosuite's ``MujocoEnv.step`` (lite physics) for one supported env.

    Raises ValueError from the constructor when :func:`fast_step_supported` names a reason.
    """

    def __init__(self, env):
        why = fast_step_supported(env)
        if why is not None:
            raise ValueError(f"fast robosuite stepping: {why}")
        self.env = env
        self._bind()

    def _bind(self) -> None:
        """(Re)read the controller, actuators and model: robosuite's hard reset rebuilds all of them."""
        env = self.env
        robot = env.robots[0]
        self.arm = robot.part_controllers["right"]
        self.composite = robot.composite_controller
        self._torques = self._osc_torques if type(self.arm).__name__ == "OperationalSpaceController" \
            else self._joint_torques
        self.actuators = np.asarray(robot._ref_actuators_indexes_dict["right"])
        model = env.sim.model
        self.ctrl_low = model.actuator_ctrlrange[self.actuators, 0]
        self.ctrl_high = model.actuator_ctrlrange[self.actuators, 1]
        self.substeps = int(env.control_timestep / env.model_timestep)  # robosuite's own count
        self._mass = np.ndarray(shape=(model.nv, model.nv), dtype=np.float64, order="C")
        self._model, self._data = model._model, env.sim.data._data  # raw MjModel / MjData: no binding lookups
        self._qpos_index = np.asarray(self.arm.qpos_index)
        self._qvel_index = np.asarray(self.arm.qvel_index)
        if type(self.arm).__name__ == "OperationalSpaceController":
            self._ref_site = env.sim.model.site_name2id(self.arm.ref_name)
            self._jacp, self._jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))

    def _osc_update(self) -> None:
        """The OSC controller's ``update()`` (reference-site pose, velocity and Jacobians, joint state, mass matrix)
        from raw MuJoCo calls: one ``mj_jacSite`` instead of six name lookups; same values, so bit-identical."""
        arm, data, site = self.arm, self._data, self._ref_site
        mujoco.mj_jacSite(self._model, data, self._jacp, self._jacr, site)
        arm.ref_pos[:] = data.site_xpos[site]
        arm.ref_ori_mat[:, :] = data.site_xmat[site].reshape([3, 3])
        arm.ref_pos_vel[:] = np.dot(self._jacp, data.qvel)
        arm.ref_ori_vel[:] = np.dot(self._jacr, data.qvel)
        arm.J_pos[:, :] = self._jacp[:, self._qvel_index]
        arm.J_ori[:, :] = self._jacr[:, self._qvel_index]
        arm.J_full[:, :] = np.vstack([arm.J_pos, arm.J_ori])
        arm.joint_pos = data.qpos[self._qpos_index]
        arm.joint_vel = data.qvel[self._qvel_index]
        mujoco.mj_fullM(self._model, self._mass, data.qM)
        arm.mass_matrix = self._mass[self._qvel_index, :][:, self._qvel_index]
        arm.new_update = False

    def _osc_torques(self) -> np.ndarray:
        """The OSC controller's output for the current state: robosuite's own ``run_controller`` after robosuite's
        origin update and a faster, equal state update, without the composite controller's per-substep bookkeeping
        (action-limit properties, asserts, the gripper's constant command)."""
        self.composite.update_state()  # the arm's origin, as robosuite's Robot.control sets it every substep
        self._osc_update()
        return np.clip(self.arm.run_controller(), self.ctrl_low, self.ctrl_high)

    def _joint_torques(self) -> np.ndarray:
        """The joint-position controller's output for the current state (robosuite's formula and operation order,
        so the result is bit-identical)."""
        arm, data = self.arm, self._data
        joint_pos = data.qpos[self._qpos_index]
        joint_vel = data.qvel[self._qvel_index]
        mujoco.mj_fullM(self._model, self._mass, data.qM)
        desired = np.multiply(arm.goal_qpos - joint_pos, arm.kp) + np.multiply(-joint_vel, arm.kd)
        mass = self._mass[self._qvel_index, :][:, self._qvel_index]  # robosuite's indexing: same memory layout
        torques = np.dot(mass, desired) + data.qfrc_bias[self._qvel_index]
        return np.clip(torques, self.ctrl_low, self.ctrl_high)

    def step(self, action: np.ndarray):
        """One control step; returns robosuite's ``(observations, reward, done, info)``."""
        env = self.env
        if env.done:
            raise ValueError("executing action in terminated episode")
        if env.robots[0].part_controllers.get("right") is not self.arm:
            self._bind()  # the env was (hard-)reset since the last step
        env.timestep += 1
        sim = env.sim
        for i in range(self.substeps):
            sim.step1()
            if i == 0:
                env._pre_action(action, True)
            else:
                self._data.ctrl[self.actuators] = self._torques()
            sim.step2()
            env._update_observables()
        env.cur_time += env.control_timestep
        reward, done, info = env._post_action(action)
        return env._get_observations(), reward, done, info
