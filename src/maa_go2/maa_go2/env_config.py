"""Typed configuration of the Go2 walk-these-ways task (shared by every engine)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from maa_go2.commands import CommandRanges, resolve_observed_commands
from maa_go2.control import KD, KP
from maa_go2.curriculum import CurriculumConfig
from maa_go2.randomization import RandomizationConfig
from maa_go2.rewards import RewardConfig


@dataclass
class EnvConfig:
    """Task configuration. ``history_len`` observations feed the adaptation module."""

    num_envs: int = 256
    episode_length_s: float = 20.0
    history_len: int = 15
    resampling_time_s: float = 10.0
    obs_noise: bool = True
    init_joint_noise: float = 0.1  #: uniform +- [rad] around the default pose at reset
    init_height: float = 0.33  #: base height at reset [m]
    fall_gravity_z: float = -0.5  #: terminate when projected gravity z > this (tilt > 60 deg)
    fall_height: float = 0.12  #: terminate when the base is lower than this [m]
    kp: float = KP
    kd: float = KD
    clip_actions: float = 10.0
    commands: CommandRanges = field(default_factory=CommandRanges)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    domain_rand: RandomizationConfig = field(default_factory=RandomizationConfig)
    rewards: RewardConfig = field(default_factory=RewardConfig)
    #: command entries the actor observes as these constants while its rewards follow the sampled commands (style
    #: specialists, issue 13; ``maa_go2.commands.resolve_observed_commands``); {} = the actor sees its commands
    fixed_observed_commands: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fixed_observed_commands = resolve_observed_commands(self.fixed_observed_commands)
        if self.num_envs < 1 or self.history_len < 1 or self.episode_length_s <= 0:
            raise ValueError(f"env: num_envs, history_len must be >= 1 and episode_length_s > 0, got "
                             f"{self.num_envs}, {self.history_len}, {self.episode_length_s}")


NO_PUSH_S = 1e6  #: a push (or command resampling) interval that never comes within an evaluation


def evaluation_env_config(num_envs: int, seconds: float, history_len: int, push_interval_s: float = NO_PUSH_S,
                          push_max_vel: float = 0.5, domain_rand: RandomizationConfig | None = None) -> EnvConfig:
    """The env every evaluation runs an actor in: ``num_envs`` robots with a training randomization (physics and
    observation noise; ``domain_rand``, e.g. the evaluated run's own, else :class:`RandomizationConfig`'s defaults),
    commands that stay as set (no resampling), no pushes unless ``push_interval_s`` [s] / ``push_max_vel`` [m/s]
    ask for them, and episodes that outlast ``seconds`` [s]."""
    rand = dataclasses.replace(domain_rand or RandomizationConfig(), push_interval_s=push_interval_s,
                               push_max_vel=push_max_vel)
    return EnvConfig(num_envs=num_envs, episode_length_s=seconds + 1.0, history_len=history_len,
                     resampling_time_s=NO_PUSH_S, domain_rand=rand)


def staggered_episode_steps(num_envs: int, max_steps: int, seed: int) -> np.ndarray:
    """``[num_envs]`` int64 episode-step counters drawn uniformly from ``[0, max_steps)`` with ``seed``.

    Both engines set their envs' episode clocks to these when training starts or resumes (rsl_rl's
    ``init_at_random_ep_len``): otherwise every env starts its episode in the same step, so time-outs, command
    resamples and pushes stay in lockstep across the batch for millions of steps once falls are rare, and each
    rollout sees one phase of the episode only. Seen after a resume: the training errors oscillated with the
    episode's period for ~5M env steps (``results/go2/agility_v4_4051_curve.png``, at 34M).
    """
    if num_envs < 1 or max_steps < 1:
        raise ValueError(f"num_envs and max_steps must be >= 1, got {num_envs}, {max_steps}")
    return np.random.default_rng(seed).integers(0, max_steps, num_envs, dtype=np.int64)
