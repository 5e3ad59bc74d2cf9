"""Style specialists for a behavior-diverse Go2 zoo (issue 13): a grid of styles, each fine-tuned from one actor.

A *style* fixes what the walk-these-ways commands leave to the user: the gait (trot, pronk, pace, bound), the body
height offset [m] and the foot swing height [m]. A specialist is the multi-gait actor fine-tuned with its rewards
following one style while it *observes* the deploy defaults (``observed``, via
:attr:`maa_go2.env_config.EnvConfig.fixed_observed_commands`): under the same command input, specialists behave
differently, so the behavior is in the weights and a prompt can ask for it. Velocities and the step frequency stay
live commands.

:class:`StyleSetConfig` (the ``styles:`` section of ``config/go2_styles.yaml``) expands ``gaits x body_heights x
footswing_heights`` into :class:`StyleSpec` s, all of which are trained; ``held_out`` names are kept out of the zoo
(the generator's held-out behaviors: their specialists record the held-out prompts and are the evaluation's
reference). :meth:`StyleSetConfig.train_config` gives each style its own
:class:`~maa_go2.train_config.Go2TrainConfig` (the base task with the style's command ranges), which either engine
trains; ``training/finetune_go2_styles.py`` runs them all, resumably. No MuJoCo or torch is imported here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from maa_go2.commands import GAITS, resolve_observed_commands
from maa_go2.teleop import TeleopConfig
from maa_go2.train_config import Go2TrainConfig, load_train_config


def deploy_default_style() -> dict:
    """The gait, body height and swing height the deploy node commands by default (:class:`TeleopConfig`)."""
    t = TeleopConfig()
    return {"gait": t.gait, "body_height": t.body_height, "footswing_height": t.footswing_height}


@dataclass(frozen=True)
class StyleSpec:
    """One style: ``gait`` (a :data:`~maa_go2.commands.GAITS` name), ``body_height`` offset [m] from the nominal
    base height, ``footswing_height`` [m]."""

    gait: str
    body_height: float
    footswing_height: float

    @property
    def name(self) -> str:
        """A file- and shard-safe name with the heights in mm, e.g. ``pronk_h-50_s80``, ``trot_h30_s110``."""
        return f"{self.gait}_h{round(self.body_height * 1000)}_s{round(self.footswing_height * 1000)}"

    def as_dict(self) -> dict:
        return {"name": self.name, "gait": self.gait, "body_height": self.body_height,
                "footswing_height": self.footswing_height}


@dataclass
class StyleSetConfig:
    """The style grid and how every specialist is fine-tuned (the ``styles:`` section)."""

    base_config: str = "config/go2_agility.yaml"  #: the task (its ``train:`` section) every specialist trains on
    init_from: str = ""  #: the checkpoint every specialist starts from (``ckpt_*.pt`` of the multi-gait run)
    out: str = "runs/go2_styles"  #: one run directory per style under this folder
    gaits: list[str] = field(default_factory=lambda: ["trot", "pronk", "pace", "bound"])
    body_heights: list[float] = field(default_factory=lambda: [-0.05, 0.0, 0.03])  #: [m]
    footswing_heights: list[float] = field(default_factory=lambda: [0.06, 0.11])  #: [m]
    held_out: list[str] = field(default_factory=list)  #: style names kept out of the zoo (held-out behaviors)
    #: what every specialist observes instead of its style: the deploy node's default commands
    observed: dict = field(default_factory=lambda: deploy_default_style())
    iterations: int = 60  #: PPO iterations per specialist
    save_interval: int = 2  #: an actor every this many iterations (zoo checkpoints)
    num_envs: int = 128
    keep_checkpoints: int = 2  #: full checkpoints kept per specialist (resume needs the newest)
    seed: int = 0  #: specialist ``k`` of the grid trains with seed ``seed + k``
    overrides: list[str] = field(default_factory=list)  #: ``train.a.b=value`` overrides of the base config

    def __post_init__(self) -> None:
        bad = [g for g in self.gaits if g not in GAITS]
        if bad or not self.gaits:
            raise ValueError(f"styles.gaits: expected a non-empty subset of {sorted(GAITS)}, got {self.gaits}")
        for name in ("body_heights", "footswing_heights"):
            if not getattr(self, name):
                raise ValueError(f"styles.{name}: expected at least one value")
        if min(self.footswing_heights) <= 0:
            raise ValueError(f"styles.footswing_heights: expected values > 0 [m], got {self.footswing_heights}")
        names = {s.name for s in self.grid()}
        unknown = sorted(set(self.held_out) - names)
        if unknown:
            raise ValueError(f"styles.held_out: {unknown} are not in the grid; expected names like "
                             f"{sorted(names)[:3]}")
        if len(self.zoo_styles()) == 0:
            raise ValueError("styles.held_out holds every style of the grid; the zoo would be empty")
        self.observed = resolve_observed_commands(self.observed)
        for name in ("iterations", "save_interval", "num_envs"):
            if getattr(self, name) < 1:
                raise ValueError(f"styles.{name} must be >= 1, got {getattr(self, name)}")

    def grid(self) -> list[StyleSpec]:
        """Every style of ``gaits x body_heights x footswing_heights``, in that nesting order."""
        return [StyleSpec(g, float(h), float(s)) for g in self.gaits for h in self.body_heights
                for s in self.footswing_heights]

    def zoo_styles(self) -> list[StyleSpec]:
        """The grid without ``held_out``: the styles whose specialists go into the zoo."""
        return [s for s in self.grid() if s.name not in self.held_out]

    def held_out_styles(self) -> list[StyleSpec]:
        return [s for s in self.grid() if s.name in self.held_out]

    def run_dir(self, style: StyleSpec) -> Path:
        return Path(self.out) / style.name

    def train_config(self, style: StyleSpec, index: int) -> Go2TrainConfig:
        """The fine-tuning run of ``style`` (the ``index``-th style of the grid): the base task, its commands narrowed
        to the style, the observed constants, no curriculum (the base run opened the whole command box) and no
        wall-clock budget of its own.

        Raises:
            ValueError: ``init_from`` is empty, or the base config does not load.
        """
        if not self.init_from:
            raise ValueError("styles.init_from: name the checkpoint every specialist starts from (a ckpt_*.pt of "
                             "the multi-gait run, e.g. runs/go2_agility/checkpoints/ckpt_02928.pt)")
        base = load_train_config(self.base_config, list(self.overrides))
        env = base.env
        commands = dataclasses.replace(env.commands, gaits=[style.gait], body_height=[style.body_height] * 2,
                                       footswing_height=[style.footswing_height] * 2)
        env = dataclasses.replace(env, num_envs=self.num_envs, commands=commands, fixed_observed_commands=self.observed,
                                  curriculum=dataclasses.replace(env.curriculum, enabled=False))
        return dataclasses.replace(base, env=env, run_dir=str(self.run_dir(style)), init_from=self.init_from,
                                   init_curriculum=False, iterations=self.iterations, save_interval=self.save_interval,
                                   keep_checkpoints=self.keep_checkpoints, max_wall_clock_s=0.0,
                                   seed=self.seed + index)
