"""What the DAgger collector needs from a manipulation suite (MetaWorld, robosuite): one place to look it up.

A :class:`CollectDomain` names the zoo domain, the SAC actor layout, the task-name normalization, a vectorized env
constructor (``reset() -> obs [E, o]``, ``step(actions [E, a]) -> (obs, reward [E], done [E], success [E])``,
``max_steps``, ``num_envs``: the interface :func:`maa_manip.envs.rollout` drives) and the scripted expert
(``get_action(state [o]) -> action [a]``, a pure function of the state, so recorded states can be labelled).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from maa_core.layout import PolicyLayout, metaworld_sac_layout

DOMAINS = ("metaworld", "robosuite")


@dataclass(frozen=True)
class CollectDomain:
    """One suite's collection hooks (see the module docstring)."""

    name: str
    layout: PolicyLayout
    canonical_task: Callable[[str], str]
    make_vec: Callable[[str, Sequence[int], str, int], object]  # (task, init_seeds, init_mode, max_steps)
    make_expert: Callable[[str], object]

    @property
    def obs_dim(self) -> int:
        return self.layout.obs_dim

    @property
    def act_dim(self) -> int:
        return self.layout.action_dim


def _metaworld() -> CollectDomain:
    from maa_manip.envs import VecMetaWorld, expert_policy, task_short

    return CollectDomain("metaworld", metaworld_sac_layout(), task_short, VecMetaWorld, expert_policy)


def _robosuite(robot: str, control: str) -> CollectDomain:
    from maa_manip.robosuite_env import TASKS, VecRobosuite, robosuite_sac_layout

    def canonical(task: str) -> str:
        if task not in TASKS:
            from maa_manip.envs import EnvError

            raise EnvError(f"unknown robosuite task {task!r}; expected one of {TASKS}")
        return task

    def make_vec(task, seeds, mode, steps):
        return VecRobosuite(task, robot, seeds, mode, steps, control=control)

    def make_expert(task):
        from maa_manip.robosuite_experts import robosuite_expert

        return robosuite_expert(task, robot, control)

    return CollectDomain("robosuite", robosuite_sac_layout(control), canonical, make_vec, make_expert)


def collect_domain(name: str = "metaworld", robot: str = "Panda", control: str = "osc") -> CollectDomain:
    """The hooks of suite ``name`` (``robot``: the robosuite arm the zoo is collected on, ``control``: its layout,
    see :mod:`maa_manip.robosuite_env`)."""
    if name == "metaworld":
        return _metaworld()
    if name == "robosuite":
        return _robosuite(robot, control)
    raise ValueError(f"unknown collection domain {name!r}; expected one of {DOMAINS}")
