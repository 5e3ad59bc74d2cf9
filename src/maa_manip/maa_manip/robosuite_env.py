"""Robosuite 1.5 tasks (Lift, Door, NutAssemblySingle) in two fixed state/action layouts, one per arm controller.

``osc`` (default; the layout that transfers between arms): robosuite's ``OSC_POSE`` controller, so an action means
the same end-effector motion on Panda and Sawyer, and a state without joint angles (which differ between the arms).

* State (25): ``eef_pos (3), eef_quat (4, grip site, x y z w with w >= 0), gripper_open (1), eef_lin_vel (3, m/s),
  eef_ang_vel (3, rad/s)`` + 11 task values; ``gripper_open`` is the finger opening scaled so that 0 is the arm's
  gripper closed and 1 open (:data:`GRIPPER_OPENING`), clipped to [0, 1].
* Action (7): ``dpos (3)`` (x 0.05 m) and ``drot (3)`` (axis-angle, x 0.5 rad) in the robot base frame, gripper.

Sawyer under ``osc``: robosuite 1.5's Sawyer rests the collision geom of link 0 (turned by joint 0) on the base's, and
the contact's friction holds joint 0 still (measured: -32 N m commanded, no motion), so the arm cannot reach targets
that need joint 0. The ``osc`` envs take that one geom out of collision (:func:`free_sawyer_joint0`).

``joint`` (the first layout; kept to reproduce its results, without that change): the ``JOINT_POSITION`` controller.

* State (41): ``joint_pos_cos (7), joint_pos_sin (7), joint_vel (7), eef_pos (3), eef_quat (4), gripper_qpos (2)``
  + 11 task values. Action (8): 7 joint-position deltas (x 0.05 rad) + gripper.

Task values (both layouts):

* Lift: ``cube_pos (3), cube_quat (4), gripper_to_cube_pos (3), 0``
* Door: ``handle_pos (3), handle_to_eef_pos (3), door_pos (3), hinge_qpos (1), handle_qpos (1)``
* NutAssemblySingle: ``nut_pos (3), nut_quat (4), nut_to_robot0_eef_pos (3), nut_id (1)`` of the episode's
  nut (the square (id 0) or the round (id 1) nut is drawn at every reset and the other hidden). Robosuite draws it
  from a Python set, whose order depends on string hashing (so a seed's nut differed between processes); this env
  draws ``nut_id`` from the env's own seeded generator instead (robosuite's ``single_object_mode=2``).

Gripper action: -1 opens, +1 closes. The policy is the 128x128 Gaussian SAC actor :func:`robosuite_sac_layout`.
Control at 20 Hz, 500-step episodes, shaped reward, success from ``env._check_success()``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maa_core.layout import PolicyLayout
from maa_manip.envs import EnvError, VecEnvs
from maa_manip.robosuite_fast import FastStepper

TASKS = ("Lift", "Door", "NutAssemblySingle")
ROBOTS = ("Panda", "Sawyer")
TASK_DIM = 11


@dataclass(frozen=True)
class ControlSpec:
    """One state/action layout: the robosuite arm controller, the state and action sizes and the actor's name."""

    name: str
    controller: str
    obs_dim: int
    act_dim: int
    layout_name: str

    @property
    def task_slice(self) -> slice:
        """Where the 11 task values sit in the state."""
        return slice(self.obs_dim - TASK_DIM, self.obs_dim)


CONTROLS = {
    "osc": ControlSpec("osc", "OSC_POSE", 25, 7, "robosuite_osc_sac"),
    "joint": ControlSpec("joint", "JOINT_POSITION", 41, 8, "robosuite_sac"),
}
_JOINT_PROPRIO = ("joint_pos_cos", "joint_pos_sin", "joint_vel", "eef_pos", "eef_quat", "gripper_qpos")
_TASK_KEYS = {
    "Lift": ("cube_pos", "cube_quat", "gripper_to_cube_pos"),
    "Door": ("handle_pos", "handle_to_eef_pos", "door_pos", "hinge_qpos", "handle_qpos"),
    "NutAssemblySingle": ("{nut}_pos", "{nut}_quat", "{nut}_to_robot0_eef_pos", "nut_id"),
}
#: robosuite's nut names by ``nut_id`` (NutAssembly.nut_to_id: square 0, round 1)
_NUTS = ("SquareNut", "RoundNut")


def control_spec(control: str) -> ControlSpec:
    """The :class:`ControlSpec` named ``control`` (``osc`` or ``joint``)."""
    if control not in CONTROLS:
        raise EnvError(f"unknown robosuite control {control!r}; expected one of {tuple(CONTROLS)}")
    return CONTROLS[control]


def robosuite_sac_layout(control: str = "osc") -> PolicyLayout:
    """The 128x128 Gaussian SAC actor of one layout (osc: 25 -> 7, 21,646 parameters; joint: 41 -> 8, 23,952)."""
    spec = control_spec(control)
    return PolicyLayout(obs_dim=spec.obs_dim, action_dim=spec.act_dim, hidden=(128, 128), activation="relu",
                        output="gaussian_tanh", name=spec.layout_name)


def control_of_layout(layout: PolicyLayout) -> str:
    """The control (``osc`` / ``joint``) whose actor ``layout`` is; EnvError for any other layout."""
    for name in CONTROLS:
        if robosuite_sac_layout(name) == layout:
            return name
    raise EnvError(f"layout {layout.name} ({layout.obs_dim} -> {layout.action_dim}) is not a robosuite actor layout; "
                   f"expected one of {[CONTROLS[c].layout_name for c in CONTROLS]}")


def _task_values(obs: dict, task: str) -> list[np.ndarray]:
    nut = _NUTS[int(np.asarray(obs["nut_id"]).reshape(-1)[0])] if "nut_id" in obs else None
    parts = [np.asarray(obs[k.format(nut=nut)], np.float32).reshape(-1) for k in _TASK_KEYS[task]]
    x = np.concatenate(parts)
    if x.size > TASK_DIM:
        raise EnvError(f"{task}: {x.size} task values, expected at most {TASK_DIM}")
    return [np.pad(x, (0, TASK_DIM - x.size))]


def state_vector(obs: dict, task: str) -> np.ndarray:
    """Robosuite observation dict -> the 41-d ``joint`` state (float32)."""
    parts = [np.asarray(obs[f"robot0_{k}"], np.float32).reshape(-1) for k in _JOINT_PROPRIO]
    return np.concatenate(parts + _task_values(obs, task))


def osc_state_vector(obs: dict, task: str, gripper_open: float, eef_vel: np.ndarray) -> np.ndarray:
    """Robosuite observation dict + the arm's gripper opening fraction and grip-site velocity ``[6]`` (linear m/s,
    angular rad/s, world frame) -> the 25-d ``osc`` state (float32)."""
    quat = np.asarray(obs["robot0_eef_quat_site"], np.float32).reshape(4)
    quat = -quat if quat[3] < 0 else quat  # q and -q are one rotation: keep w >= 0
    proprio = [np.asarray(obs["robot0_eef_pos"], np.float32).reshape(3), quat,
               np.array([gripper_open], np.float32), np.asarray(eef_vel, np.float32).reshape(6)]
    return np.concatenate(proprio + _task_values(obs, task))


#: Finger opening ``qpos[0] - qpos[1]`` (m) of each arm's gripper when commanded closed (nothing between the fingers)
#: and open, measured here (Panda's gripper opens to 0.078 of its 0.08 m joint range, Sawyer's Rethink gripper to
#: 0.021 of its 0.042 m), so that ``gripper_open`` reads 0 closed and 1 open on both arms.
GRIPPER_OPENING = {"Panda": (0.0, 0.078), "Sawyer": (-0.023, 0.021)}


def gripper_opening_range(robot: str) -> tuple[float, float]:
    """``(closed, open)`` finger opening (m) of ``robot``'s gripper (:data:`GRIPPER_OPENING`)."""
    if robot not in GRIPPER_OPENING:
        raise EnvError(f"no gripper opening range for robot {robot!r}; expected one of {tuple(GRIPPER_OPENING)}")
    return GRIPPER_OPENING[robot]


def free_sawyer_joint0(model) -> bool:
    """Take Sawyer's ``robot0_link0_collision`` geom out of collision (see the module docstring); idempotent.
    Returns whether the model has that geom."""
    import mujoco

    gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "robot0_link0_collision")
    if gid < 0:
        return False
    model.geom_contype[gid] = 0
    model.geom_conaffinity[gid] = 0
    return True


def _controller_config(robot: str, controller: str) -> dict:
    from robosuite.controllers import load_composite_controller_config, load_part_controller_config

    cc = load_composite_controller_config(controller="BASIC", robot=robot)
    part = load_part_controller_config(default_controller=controller)
    part["gripper"] = cc["body_parts"]["right"].get("gripper", {"type": "GRIP"})
    cc["body_parts"]["right"] = part
    return cc


class RobosuiteEnv:
    """One robosuite task with the MetaWorldEnv-like interface (``reset() -> obs [o]``, ``step(a [a])``).

    Args:
        task: one of ``TASKS``; robot: ``Panda`` (training) or ``Sawyer`` (evaluation).
        init_seed: seeds robosuite's placement sampler (``fixed``: re-seeded at every reset -> same config).
        init_mode: ``fixed`` or ``random``.
        fast: soft resets (``hard_reset=False``: the scene is built once, so a reset takes ~5 ms instead of
            1-2 s) and :class:`maa_manip.robosuite_fast.FastStepper` (bit-identical to ``env.step``, faster).
            With soft resets the objects' random sizes (Lift's cube) are drawn once per env from ``init_seed``
            instead of at every reset, so a seed maps to another (equally fixed) configuration than with
            ``fast=False``; compare policies only under one setting.
        control: ``osc`` (25-d state, 7-d end-effector action) or ``joint`` (41-d / 8-d); see the module docstring.
    """

    def __init__(self, task: str, robot: str = "Panda", init_seed: int = 0, init_mode: str = "fixed",
                 max_steps: int = 500, fast: bool = True, control: str = "osc"):
        import robosuite as suite

        if task not in TASKS:
            raise EnvError(f"unknown robosuite task {task!r}; expected one of {TASKS}")
        if robot not in ROBOTS:
            raise EnvError(f"unknown robot {robot!r}; expected one of {ROBOTS}")
        if init_mode not in ("fixed", "random"):
            raise EnvError(f"init_mode must be 'fixed' or 'random', got {init_mode!r}")
        self.spec = control_spec(control)
        self.task, self.robot, self.max_steps = task, robot, int(max_steps)
        self.init_seed, self.init_mode = int(init_seed), init_mode
        self._env = suite.make(task, robots=robot, controller_configs=_controller_config(robot, self.spec.controller),
                               has_renderer=False, has_offscreen_renderer=False, use_camera_obs=False,
                               reward_shaping=True, control_freq=20, horizon=self.max_steps, ignore_done=True,
                               seed=self.init_seed, hard_reset=not fast)
        if self._env.action_dim != self.spec.act_dim:
            raise EnvError(f"{robot} {task}: action_dim {self._env.action_dim}, expected {self.spec.act_dim}")
        self._step = FastStepper(self._env).step if fast else self._env.step
        self.dt = 1.0 / 20
        self.t = 0

    @property
    def obs_dim(self) -> int:
        return self.spec.obs_dim

    @property
    def act_dim(self) -> int:
        return self.spec.act_dim

    def _state(self, obs: dict) -> np.ndarray:
        if self.spec.name == "joint":
            return state_vector(obs, self.task)
        import mujoco

        sim, robot = self._env.sim, self._env.robots[0]
        closed, opened = gripper_opening_range(self.robot)
        q = np.asarray(obs["robot0_gripper_qpos"], np.float64).reshape(-1)
        frac = float(np.clip((q[0] - q[1] - closed) / (opened - closed), 0.0, 1.0))
        site = sim.model.site_name2id(robot.gripper["right"].important_sites["grip_site"])
        jac = np.zeros((6, sim.model.nv))
        mujoco.mj_jacSite(sim.model._model, sim.data._data, jac[:3], jac[3:], site)
        return osc_state_vector(obs, self.task, frac, jac @ sim.data.qvel)

    def _share_rng(self, sampler) -> None:
        """Point a placement sampler and its sub-samplers (NutAssembly's composite sampler keeps one per nut, each
        with its own generator) at the env's re-seeded generator, so a fixed configuration is the same at every
        reset."""
        if sampler is None:
            return
        if hasattr(sampler, "rng"):
            sampler.rng = self._env.rng
        for sub in getattr(sampler, "samplers", {}).values():
            self._share_rng(sub)

    def _draw_nut(self) -> None:
        """NutAssemblySingle: the episode's nut from the env's seeded generator (see the module docstring)."""
        env = self._env
        env.single_object_mode = 2  # place the nut that ``env.nut_id`` names
        env.nut_id = int(env.rng.integers(len(_NUTS)))

    def _with_nut_id(self, obs: dict) -> dict:
        if self.task == "NutAssemblySingle" and "nut_id" not in obs:  # a hard reset rebuilt the observables in mode 2
            obs = {**obs, "nut_id": np.array([self._env.nut_id])}
        return obs

    def reset(self) -> np.ndarray:
        if self.init_mode == "fixed":
            self._env.rng = np.random.default_rng(self.init_seed)
            self._share_rng(getattr(self._env, "placement_initializer", None))
        if self.task == "NutAssemblySingle":
            self._draw_nut()
        obs = self._with_nut_id(self._env.reset())
        if self.robot == "Sawyer" and self.spec.name == "osc":
            free_sawyer_joint0(self._env.sim.model._model)  # a hard reset rebuilds the model
        self.t = 0
        return self._state(obs)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        a = np.asarray(action, np.float64).reshape(-1)
        if a.shape != (self.act_dim,) or not np.all(np.isfinite(a)):
            raise EnvError(f"expected a finite action of shape [{self.act_dim}], got {list(np.shape(action))}")
        if self.t >= self.max_steps:
            raise EnvError("episode is over: call reset() first")
        obs, rew, _, _ = self._step(np.clip(a, -1, 1))
        obs = self._with_nut_id(obs)
        self.t += 1
        return self._state(obs), float(rew), self.t >= self.max_steps, bool(self._env._check_success())


class VecRobosuite(VecEnvs):
    """``E`` robosuite envs of one task and robot stepped together (obs ``[E, o]``, actions ``[E, a]``)."""

    def __init__(self, task: str, robot: str, init_seeds, init_mode: str = "fixed", max_steps: int = 500,
                 fast: bool = True, control: str = "osc"):
        super().__init__([RobosuiteEnv(task, robot, int(s), init_mode, max_steps, fast, control) for s in init_seeds],
                         max_steps, control_spec(control).act_dim)
