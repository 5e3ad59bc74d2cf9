"""Typed configs of the manipulation collectors and evaluation (YAML -> dataclasses, unknown keys rejected)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from maa_core.config import ConfigError, load_config, require, to_dict

__all__ = ["DaggerConfig", "SacConfig", "CollectConfig", "PromptProtocolConfig", "EvalConfig", "load_collect_config",
           "load_eval_config", "ConfigError", "to_dict"]


@dataclass
class DaggerConfig:
    """DAgger distillation of MetaWorld's scripted expert into the SAC-layout actor (one run = (task, seed)).

    Each iteration evaluates the current actor (deterministic) in ``train_inits`` fixed configurations of the
    run's seed plus ``random_inits`` random ones, records that checkpoint (params, success, prompt from its own
    rollout), labels the visited states with the expert (+ Gaussian label noise of std ``noise``, the run's noise
    level = ``noise_levels[seed % len]``) and takes ``grad_steps`` Adam steps on the aggregated data.
    """

    iterations: int = 50
    expert_episodes: int = 1
    train_inits: int = 2
    random_inits: int = 2
    grad_steps: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    noise_levels: list[float] = field(default_factory=lambda: [0.0, 0.1, 0.2, 0.3])
    partial_every: int = 10

    def __post_init__(self) -> None:
        require(self.iterations >= 1, f"dagger.iterations must be >= 1, got {self.iterations}")
        require(self.train_inits >= 1, f"dagger.train_inits must be >= 1, got {self.train_inits}")
        require(self.random_inits >= 0, f"dagger.random_inits must be >= 0, got {self.random_inits}")
        require(self.grad_steps >= 1 and self.batch_size >= 1, "dagger.grad_steps and batch_size must be >= 1")
        require(bool(self.noise_levels) and all(x >= 0 for x in self.noise_levels),
                f"dagger.noise_levels must be a non-empty list of stds >= 0, got {self.noise_levels}")


@dataclass
class SacConfig:
    """Paper SAC (critics 128x128, batch 128, lr 3e-4, gamma 0.99, tau 0.005, auto entropy, 5k random steps).

    ``num_seeds`` runs train together with batched networks; each has ``envs_per_seed`` environments.
    Checkpoints are saved every ``ckpt_every`` agent steps once a test success of ``ckpt_min_success`` is reached.
    With a zoo root, the whole run (agents, optimizers, replay buffer, RNGs, rows so far) is saved every
    ``partial_every`` agent steps to ``<root>/partial/`` and an interrupted job resumes from there.
    """

    total_steps: int = 1_000_000
    num_seeds: int = 4
    envs_per_seed: int = 1
    hidden: int = 128
    batch_size: int = 128
    lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    random_steps: int = 5000
    buffer_size: int = 1_000_000
    updates_per_step: int = 1
    ckpt_every: int = 10_000
    ckpt_min_success: float = 1.0
    test_every: int = 10_000
    test_episodes: int = 1
    prompt_episode: int = 0
    partial_every: int = 50_000

    def __post_init__(self) -> None:
        require(self.total_steps >= 1 and self.num_seeds >= 1 and self.envs_per_seed >= 1,
                "sac.total_steps, num_seeds and envs_per_seed must be >= 1")
        require(0 < self.gamma <= 1 and 0 < self.tau <= 1,
                f"sac.gamma/tau must be in (0, 1], got {self.gamma}/{self.tau}")
        require(self.ckpt_every >= 1 and self.test_every >= 1, "sac.ckpt_every and test_every must be >= 1")
        require(self.partial_every >= 1,
                "sac.partial_every (agent steps between partial-run checkpoints) must be >= 1, "
                f"got {self.partial_every}")


@dataclass
class CollectConfig:
    """Top-level collection config (``config/metaworld_*.yaml``, ``config/robosuite_dagger.yaml``)."""

    collector: str = "dagger"
    domain: str = "metaworld"  # metaworld | robosuite (DAgger only; robosuite SAC: training/collect_robosuite.py)
    robot: str = "Panda"  # robosuite: the arm the zoo is collected on
    control: str = "osc"  # robosuite: the state/action layout (osc: end-effector, joint: joint deltas)
    root: str = "data/metaworld_zoo"
    tasks: list[str] = field(default_factory=lambda: ["reach"])
    seeds: list[int] = field(default_factory=lambda: [0])
    episode_steps: int = 500
    prompt_n: int = 60
    prompt_m: int = 3
    store_episodes: int = 2
    torch_threads: int = 1
    tensorboard: str = "runs/collect_metaworld"
    dagger: DaggerConfig = field(default_factory=DaggerConfig)
    sac: SacConfig = field(default_factory=SacConfig)

    def __post_init__(self) -> None:
        require(self.collector in ("dagger", "sac"), f"collector must be 'dagger' or 'sac', got {self.collector!r}")
        require(self.domain in ("metaworld", "robosuite"),
                f"domain must be 'metaworld' or 'robosuite', got {self.domain!r}")
        require(self.domain == "metaworld" or self.collector == "dagger",
                "domain robosuite collects with the DAgger collector only (SAC: training/collect_robosuite.py)")
        require(self.robot in ("Panda", "Sawyer"), f"robot must be 'Panda' or 'Sawyer', got {self.robot!r}")
        require(self.control in ("osc", "joint"), f"control must be 'osc' or 'joint', got {self.control!r}")
        require(bool(self.tasks), "tasks must be a non-empty list")
        require(bool(self.seeds), "seeds must be a non-empty list")
        require(self.episode_steps >= 1, f"episode_steps must be >= 1, got {self.episode_steps}")
        require(self.prompt_n >= 1 and self.prompt_m >= 1, "prompt_n and prompt_m must be >= 1")
        require(self.store_episodes >= 0, "store_episodes must be >= 0")


BASELINES = ("retrieval", "retrieval_noise", "random", "bc")


@dataclass
class PromptProtocolConfig:
    """The prompt protocol that the MetaWorld and robosuite evaluations share (the keys are explained in
    ``config/metaworld_eval.yaml``): which checkpoints' episodes become prompts, how many, with what action noise,
    how each policy is rolled out and which baselines answer the same prompts."""

    generator: str = ""
    zoo: str = ""
    out: str = ""
    num_prompts: int = 100
    episodes: int = 5
    episode_steps: int = 500
    prompt_noise: float = 0.0
    prompt_min_success: float = 0.0
    prompt_max_iteration: int | None = None
    prompt_needs_success: bool = False
    save_policies: bool = False
    seed: int = 0
    baselines: list[str] = field(default_factory=lambda: ["retrieval", "retrieval_noise", "bc"])
    retrieval_noise_std: float = 0.01
    bc_steps: int = 500
    guidance_scale: float | None = None
    prompt_seed_per_task: bool = False  # prompts of a task independent of the others: partial runs, resume

    def __post_init__(self) -> None:
        require(bool(self.zoo), "zoo must name the training zoo directory (e.g. data/metaworld_zoo)")
        require(bool(self.out), "out must name the output directory")
        require(self.num_prompts >= 1, f"num_prompts must be >= 1, got {self.num_prompts}")
        require(self.episodes >= 1, f"episodes must be >= 1, got {self.episodes}")
        require(self.episode_steps >= 1, f"episode_steps must be >= 1, got {self.episode_steps}")
        require(self.prompt_noise >= 0, f"prompt_noise must be >= 0, got {self.prompt_noise}")
        require(0 <= self.prompt_min_success <= 1,
                f"prompt_min_success must be in [0, 1], got {self.prompt_min_success}")
        require(self.prompt_max_iteration is None or self.prompt_max_iteration >= 0,
                f"prompt_max_iteration must be >= 0 (or null: any training stage), got {self.prompt_max_iteration}")
        require(self.seed >= 0, f"seed must be >= 0 (it seeds prompts and configurations), got {self.seed}")
        require(set(self.baselines) <= set(BASELINES),
                f"unknown baselines {sorted(set(self.baselines) - set(BASELINES))}; "
                f"expected a subset of {list(BASELINES)}")
        require(self.retrieval_noise_std >= 0, f"retrieval_noise_std must be >= 0, got {self.retrieval_noise_std}")
        require(self.bc_steps >= 1, f"bc_steps must be >= 1, got {self.bc_steps}")
        require(self.guidance_scale is None or self.guidance_scale >= 0,
                f"guidance_scale must be >= 0 (or null: the generator's default), got {self.guidance_scale}")


@dataclass
class EvalConfig(PromptProtocolConfig):
    """MetaWorld evaluation protocol (``training/evaluate.py``): the shared prompt protocol on seen / unseen tasks."""

    zoo: str = "data/metaworld_zoo"
    out: str = "results/metaworld/eval"
    seen_tasks: list[str] = field(default_factory=list)
    unseen_tasks: list[str] = field(default_factory=list)
    plots: int = 3
    splits: list[str] = field(default_factory=lambda: ["seen", "unseen"])

    def __post_init__(self) -> None:
        super().__post_init__()
        require(bool(self.splits) and set(self.splits) <= {"seen", "unseen"},
                f"splits must be a non-empty subset of [seen, unseen], got {self.splits}")
        require(self.plots >= 0, f"plots must be >= 0, got {self.plots}")


def load_collect_config(path: str | Path, overrides: Iterable[str] = ()) -> CollectConfig:
    """A collection config (YAML composed on its ``base:`` files) with ``key=value`` overrides, e.g. ``seeds=[0]``."""
    return load_config(CollectConfig, path, overrides)


def load_eval_config(path: str | Path, overrides: Iterable[str] = ()) -> EvalConfig:
    """An evaluation config (YAML composed on its ``base:`` files) with ``key=value`` overrides, e.g. ``episodes=2``."""
    return load_config(EvalConfig, path, overrides)


def run_name_for(cfg: CollectConfig, seed: int) -> str:
    """Name of a collection run (one task, one seed) in the zoo, e.g. ``sac-s0000``."""
    return f"{cfg.collector}-s{seed:04d}"
