"""MetaWorld v3 single-task environments for policy collection and evaluation.

Observations are the 39-d goal-observable MetaWorld state (hand xyz, gripper, two objects' pos+quat, the
previous frame's 18 values, goal xyz), actions are 4-d in ``[-1, 1]`` (xyz delta, gripper effort), episodes
are 500 steps (control period ``dt`` = 0.0125 s), the reward is the
dense v2 reward and success is ``info["success"]``.

Two initialization modes:

* ``fixed``: the object/goal configuration (MetaWorld's ``rand_vec``) is drawn once from ``init_seed`` and
  reused at every reset (training / collection, like the paper's per-seed SAC runs);
* ``random``: a fresh configuration is drawn at every reset from a generator seeded with ``init_seed``
  (evaluation in random initial configurations).
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np

SEEN_TASKS: tuple[str, ...] = ("window-open", "door-open", "drawer-open", "dial-turn", "faucet-close",
                               "button-press", "door-unlock", "handle-press", "plate-slide", "reach")
UNSEEN_TASKS: tuple[str, ...] = ("window-close", "door-close", "drawer-close", "faucet-open", "button-press-wall",
                                 "door-lock", "handle-press-side", "coffee-button", "reach-wall")
OBS_DIM = 39
ACT_DIM = 4
EPISODE_STEPS = 500


class EnvError(ValueError):
    """Raised for unknown tasks or malformed actions."""


def v3_name(task: str) -> str:
    """``door-open`` (or ``door-open-v3``) -> ``door-open-v3``; raises :class:`EnvError` if MetaWorld lacks it."""
    import metaworld.env_dict as env_dict

    name = task if task.endswith("-v3") else f"{task}-v3"
    if name not in env_dict.ALL_V3_ENVIRONMENTS:
        known = sorted(k[:-3] for k in env_dict.ALL_V3_ENVIRONMENTS)
        raise EnvError(f"unknown MetaWorld task {task!r}; expected one of {known}")
    return name


def task_short(task: str) -> str:
    """``door-open-v3`` -> ``door-open``."""
    return task[:-3] if task.endswith("-v3") else task


def expert_policy(task: str):
    """MetaWorld's scripted expert for ``task`` (object with ``get_action(obs[39]) -> act[4]``)."""
    import metaworld.policies as policies

    warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high")
    camel = "".join(part.capitalize() for part in re.split("-", task_short(v3_name(task))))
    cls_name = f"Sawyer{camel}V3Policy"
    if not hasattr(policies, cls_name):
        raise EnvError(f"MetaWorld has no scripted expert {cls_name} for task {task!r}")
    return getattr(policies, cls_name)()


class MetaWorldEnv:
    """One goal-observable MetaWorld v3 task.

    Args:
        task: short (``reach``) or v3 name.
        init_seed: seed of the initial configuration(s).
        init_mode: ``fixed`` (one configuration per seed) or ``random`` (new one every reset).
        max_steps: episode length (500 in MetaWorld).
    """

    def __init__(self, task: str, init_seed: int = 0, init_mode: str = "fixed", max_steps: int = EPISODE_STEPS):
        import metaworld.env_dict as env_dict

        if init_mode not in ("fixed", "random"):
            raise EnvError(f"init_mode must be 'fixed' or 'random', got {init_mode!r}")
        if max_steps < 1:
            raise EnvError(f"max_steps must be >= 1, got {max_steps}")
        self.task = task_short(v3_name(task))
        self.max_steps = int(max_steps)
        self.init_mode = init_mode
        env = env_dict.ALL_V3_ENVIRONMENTS[v3_name(task)]()
        env._partially_observable = False
        if "sawyer_observation_space" in env.__dict__:
            del env.sawyer_observation_space
        env._set_task_called = True
        env.max_path_length = max(self.max_steps, env.max_path_length)
        self._env = env
        self.seed(init_seed)
        self.t = 0

    @property
    def dt(self) -> float:
        """Control period in seconds."""
        return float(self._env.dt)

    @property
    def mj_model(self):
        """The task's ``mujoco.MjModel`` (read-only use: rendering, ``maa_manip.rendering``)."""
        return self._env.model

    @property
    def mj_data(self):
        """The task's live ``mujoco.MjData``."""
        return self._env.data

    def seed(self, init_seed: int) -> None:
        """Re-seed the initial-configuration generator (and, in ``fixed`` mode, redraw the configuration).

        Configurations are drawn by MetaWorld's own reset (seeded ``rand_vec`` mode), so task-specific rejection
        rules (e.g. reach: goal far enough from the puck) hold.
        """
        env = self._env
        env.seed(int(init_seed) % (2**31))
        env._freeze_rand_vec = False
        env.seeded_rand_vec = True
        env.reset()
        self._fixed_vec = np.array(env._last_rand_vec, dtype=np.float64)

    def reset(self) -> np.ndarray:
        """Start an episode -> obs ``[39]`` float32."""
        env = self._env
        if self.init_mode == "fixed":
            env._freeze_rand_vec = True
            env._last_rand_vec = self._fixed_vec.copy()
        else:
            env._freeze_rand_vec = False
            env.seeded_rand_vec = True
        obs, _ = env.reset()
        self.t = 0
        return np.asarray(obs, dtype=np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        """Apply ``action`` ``[4]`` (clipped to [-1, 1]) -> ``(obs [39], reward, done, success)``.

        ``done`` is True after ``max_steps`` steps (time limit; MetaWorld never terminates early).
        """
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (ACT_DIM,) or not np.all(np.isfinite(a)):
            raise EnvError(f"expected a finite action of shape [{ACT_DIM}], got {list(np.shape(action))}")
        if self.t >= self.max_steps:
            raise EnvError("episode is over: call reset() first")
        obs, reward, _, _, info = self._env.step(np.clip(a, -1.0, 1.0))
        self.t += 1
        return (np.asarray(obs, dtype=np.float32), float(reward), self.t >= self.max_steps,
                bool(info.get("success", 0.0) > 0.5))


class VecEnvs:
    """``E`` single-task environments stepped together in-process (MuJoCo stepping dominates, not Python); the
    interface :func:`rollout` and the DAgger collector drive. Each env has ``reset() -> obs [o]`` and
    ``step(a [act_dim]) -> (obs, reward, done, success)``."""

    def __init__(self, envs: Sequence, max_steps: int, act_dim: int):
        if not envs:
            raise EnvError(f"{type(self).__name__} needs at least one init seed")
        self.envs, self.max_steps, self.act_dim = list(envs), int(max_steps), int(act_dim)

    @property
    def num_envs(self) -> int:
        return len(self.envs)

    def reset(self) -> np.ndarray:
        """-> obs ``[E, o]``."""
        return np.stack([e.reset() for e in self.envs])

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``actions [E, a]`` -> ``obs [E, o], reward [E], done [E], success [E]`` (no auto-reset)."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, self.act_dim):
            raise EnvError(f"expected actions [{self.num_envs}, {self.act_dim}], got {list(actions.shape)}")
        obs, rew, done, succ = zip(*(e.step(a) for e, a in zip(self.envs, actions)))
        return np.stack(obs), np.asarray(rew, np.float32), np.asarray(done), np.asarray(succ)


class VecMetaWorld(VecEnvs):
    """``E`` MetaWorld environments stepped together (obs ``[E, 39]``, actions ``[E, 4]``).

    Args:
        tasks: one task per env (or a single task name for all).
        init_seeds: one seed per env.
        init_mode: see :class:`MetaWorldEnv`.
    """

    def __init__(self, tasks: str | Sequence[str], init_seeds: Sequence[int], init_mode: str = "fixed",
                 max_steps: int = EPISODE_STEPS):
        seeds = [int(s) for s in init_seeds]
        task_list = [tasks] * len(seeds) if isinstance(tasks, str) else list(tasks)
        if len(task_list) != len(seeds):
            raise EnvError(f"got {len(task_list)} tasks for {len(seeds)} seeds")
        super().__init__([MetaWorldEnv(t, s, init_mode, max_steps) for t, s in zip(task_list, seeds)], max_steps,
                         ACT_DIM)


def rollout(vec: VecEnvs, act_fn, steps: int | None = None) -> dict[str, np.ndarray]:
    """Run one episode in every env of ``vec``.

    Args:
        act_fn: ``obs [E, 39] -> actions [E, 4]``.
        steps: episode length (default ``vec.max_steps``).
    Returns:
        dict with ``obs [E, T, 39]`` (state acted on), ``act [E, T, 4]``, ``reward [E, T]``, ``success [E, T]``.
    """
    steps = vec.max_steps if steps is None else int(steps)
    obs = vec.reset()
    o_l, a_l, r_l, s_l = [], [], [], []
    for _ in range(steps):
        act = np.clip(np.asarray(act_fn(obs), dtype=np.float32), -1.0, 1.0)
        o_l.append(obs)
        a_l.append(act)
        obs, rew, _, succ = vec.step(act)
        r_l.append(rew)
        s_l.append(succ)
    return {"obs": np.stack(o_l, 1), "act": np.stack(a_l, 1), "reward": np.stack(r_l, 1),
            "success": np.stack(s_l, 1)}
