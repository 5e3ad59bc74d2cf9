"""Robosuite 1.5 tasks (Lift, Door, NutAssemblySingle) with a fixed 41-d state / 8-d action layout.

State (41): ``joint_pos_cos (7), joint_pos_sin (7), joint_vel (7), eef_pos (3), eef_quat (4), gripper_qpos (2)``
(30 proprioceptive values) + 11 task values:

* Lift: ``cube_pos (3), cube_quat (4), gripper_to_cube_pos (3), 0``
* Door: ``handle_pos (3), handle_to_eef_pos (3), door_pos (3), hinge_qpos (1), handle_qpos (1)``
* NutAssemblySingle: ``nut_pos (3), nut_quat (4), nut_to_robot0_eef_pos (3), nut_id (1)`` of the episode's
  nut (robosuite draws the square (id 0) or the round (id 1) nut at every reset and hides the other)

Action (8): 7 joint-position deltas (robosuite ``JOINT_POSITION`` controller, [-1, 1]) + gripper. Both Panda and
Sawyer have 7 joints and a 2-finger gripper, so the same layout trains on Panda and evaluates on Sawyer.
The policy is the 128x128 Gaussian SAC actor :func:`robosuite_sac_layout` (41 -> 128 -> 128 -> 16, 23,952
parameters). Control at 20 Hz, 500-step episodes, shaped reward, success from ``env._check_success()``.
"""
from __future__ import annotations

import numpy as np

from maa_core.layout import PolicyLayout
from maa_manip.envs import EnvError, VecEnvs
from maa_manip.robosuite_fast import FastStepper

OBS_DIM = 41
ACT_DIM = 8
TASKS = ("Lift", "Door", "NutAssemblySingle")
ROBOTS = ("Panda", "Sawyer")
_PROPRIO = ("joint_pos_cos", "joint_pos_sin", "joint_vel", "eef_pos", "eef_quat", "gripper_qpos")
_TASK_KEYS = {
    "Lift": ("cube_pos", "cube_quat", "gripper_to_cube_pos"),
    "Door": ("handle_pos", "handle_to_eef_pos", "door_pos", "hinge_qpos", "handle_qpos"),
    "NutAssemblySingle": ("{nut}_pos", "{nut}_quat", "{nut}_to_robot0_eef_pos", "nut_id"),
}
#: robosuite's nut names by ``nut_id`` (NutAssembly.nut_to_id: square 0, round 1)
_NUTS = ("SquareNut", "RoundNut")


def robosuite_sac_layout() -> PolicyLayout:
    """The 128x128 Gaussian SAC actor for the 41-d / 8-d robosuite layout (23,952 parameters)."""
    return PolicyLayout(obs_dim=OBS_DIM, action_dim=ACT_DIM, hidden=(128, 128), activation="relu",
                        output="gaussian_tanh", name="robosuite_sac")


def state_vector(obs: dict, task: str) -> np.ndarray:
    """Robosuite observation dict -> the 41-d state (float32)."""
    parts = [np.asarray(obs[f"robot0_{k}"], np.float32).reshape(-1) for k in _PROPRIO]
    nut = _NUTS[int(np.asarray(obs["nut_id"]).reshape(-1)[0])] if "nut_id" in obs else None
    parts += [np.asarray(obs[k.format(nut=nut)], np.float32).reshape(-1) for k in _TASK_KEYS[task]]
    x = np.concatenate(parts)
    if x.size > OBS_DIM:
        raise EnvError(f"{task}: state has {x.size} values, expected at most {OBS_DIM}")
    return np.pad(x, (0, OBS_DIM - x.size))


class RobosuiteEnv:
    """One robosuite task with the MetaWorldEnv-like interface (``reset() -> obs [41]``, ``step(a [8])``).

    Args:
        task: one of ``TASKS``; robot: ``Panda`` (training) or ``Sawyer`` (evaluation).
        init_seed: seeds robosuite's placement sampler (``fixed``: re-seeded at every reset -> same config).
        init_mode: ``fixed`` or ``random``.
        fast: soft resets (``hard_reset=False``: the scene is built once, so a reset takes ~5 ms instead of
            1-2 s) and :class:`maa_manip.robosuite_fast.FastStepper` (bit-identical to ``env.step``, ~2.5x faster).
            With soft resets the objects' random sizes (Lift's cube) are drawn once per env from ``init_seed``
            instead of at every reset, so a seed maps to another (equally fixed) configuration than with
            ``fast=False``; compare policies only under one setting.
    """

    def __init__(self, task: str, robot: str = "Panda", init_seed: int = 0, init_mode: str = "fixed",
                 max_steps: int = 500, fast: bool = True):
        import robosuite as suite
        from robosuite.controllers import load_composite_controller_config, load_part_controller_config

        if task not in TASKS:
            raise EnvError(f"unknown robosuite task {task!r}; expected one of {TASKS}")
        if robot not in ROBOTS:
            raise EnvError(f"unknown robot {robot!r}; expected one of {ROBOTS}")
        if init_mode not in ("fixed", "random"):
            raise EnvError(f"init_mode must be 'fixed' or 'random', got {init_mode!r}")
        cc = load_composite_controller_config(controller="BASIC", robot=robot)
        part = load_part_controller_config(default_controller="JOINT_POSITION")
        part["gripper"] = cc["body_parts"]["right"].get("gripper", {"type": "GRIP"})
        cc["body_parts"]["right"] = part
        self.task, self.robot, self.max_steps = task, robot, int(max_steps)
        self.init_seed, self.init_mode = int(init_seed), init_mode
        self._env = suite.make(task, robots=robot, controller_configs=cc, has_renderer=False,
                               has_offscreen_renderer=False, use_camera_obs=False, reward_shaping=True,
                               control_freq=20, horizon=self.max_steps, ignore_done=True, seed=self.init_seed,
                               hard_reset=not fast)
        if self._env.action_dim != ACT_DIM:
            raise EnvError(f"{robot} {task}: action_dim {self._env.action_dim}, expected {ACT_DIM}")
        self._step = FastStepper(self._env).step if fast else self._env.step
        self.dt = 1.0 / 20
        self.t = 0

    def reset(self) -> np.ndarray:
        if self.init_mode == "fixed":
            self._env.rng = np.random.default_rng(self.init_seed)
            sampler = getattr(self._env, "placement_initializer", None)
            if sampler is not None and hasattr(sampler, "rng"):
                sampler.rng = self._env.rng
        obs = self._env.reset()
        self.t = 0
        return state_vector(obs, self.task)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        a = np.asarray(action, np.float64).reshape(-1)
        if a.shape != (ACT_DIM,) or not np.all(np.isfinite(a)):
            raise EnvError(f"expected a finite action of shape [{ACT_DIM}], got {list(np.shape(action))}")
        if self.t >= self.max_steps:
            raise EnvError("episode is over: call reset() first")
        obs, rew, _, _ = self._step(np.clip(a, -1, 1))
        self.t += 1
        return state_vector(obs, self.task), float(rew), self.t >= self.max_steps, bool(self._env._check_success())


class VecRobosuite(VecEnvs):
    """``E`` robosuite envs of one task and robot stepped together (obs ``[E, 41]``, actions ``[E, 8]``)."""

    def __init__(self, task: str, robot: str, init_seeds, init_mode: str = "fixed", max_steps: int = 500,
                 fast: bool = True):
        super().__init__([RobosuiteEnv(task, robot, int(s), init_mode, max_steps, fast) for s in init_seeds],
                         max_steps, ACT_DIM)
