"""Training configuration: the ``data:`` and ``train:`` sections of a preset, plus the whole-file ``RunConfig``.

Loaded with :func:`maa_core.config.load_config` (unknown keys and wrong types are errors).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from maa_core.config import ConfigError, load_config
from maa_generator.models.config import AutoencoderConfig, DiffusionConfig, EmbeddingConfig, ModelConfig

STAGES = ("autoencoder", "embedding", "generator")


# --------------------------------------------------------------------------- configs
@dataclass
class DataConfig:
    """Where the training data comes from.

    Args:
        zoo: path of a policy zoo (``docs/zoo_format.md``); overridden by ``--zoo``.
        synthetic: build a SYNTHETIC zoo under ``<out>/synthetic_zoo`` when no zoo is given (CI only).
        synthetic_layout: ``PolicyLayout`` dict of the synthetic policies.
        synthetic_tasks, synthetic_per_task: synthetic zoo size.
        tasks: train on these tasks only (``None``: all).
        min_success: drop checkpoints whose success rate is below this.
        val_fraction: fraction of checkpoints held out for validation (at least 2 rows).
        normalizer_rows: at most this many training rows are used to fit the normalizers.
    """

    zoo: str | None = None
    synthetic: bool = False
    synthetic_layout: dict = field(default_factory=lambda: {"obs_dim": 8, "action_dim": 2, "hidden": [32, 32]})
    synthetic_tasks: int = 4
    synthetic_per_task: int = 16
    tasks: list[str] | None = None
    min_success: float | None = None
    val_fraction: float = 0.1
    normalizer_rows: int = 20000

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.synthetic_tasks < 2 or self.synthetic_per_task < 2:
            raise ConfigError("data.synthetic_tasks and data.synthetic_per_task must be >= 2")


@dataclass
class StageConfig:
    """One stage's optimization: ``steps`` AdamW steps at ``lr`` (linear warm-up, cosine decay to 10%).

    ``init_from`` (generator stage only): a training run directory or a saved generator (e.g. the bundled
    ``models/metaworld/generator``) whose trained diffusion model initializes this one (fine-tuning, e.g. a
    MetaWorld-trained diffusion on a robosuite zoo); the latent and condition shapes must match, the normalizers are
    refit on this run's data.
    """

    steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    batch_size: int | None = None
    init_from: str | None = None

    def __post_init__(self) -> None:
        if self.steps < 1 or self.lr <= 0 or self.warmup_steps < 0:
            raise ConfigError(f"stage needs steps >= 1, lr > 0, warmup_steps >= 0; got {self}")
        if self.batch_size is not None and self.batch_size < 2:
            raise ConfigError(f"stage batch_size must be >= 2 (InfoNCE needs negatives), got {self.batch_size}")


@dataclass
class TrainConfig:
    """Shared training settings; ``batch_size`` is global (split over DDP ranks)."""

    seed: int = 0
    batch_size: int = 64
    num_workers: int = 0
    checkpoint_every: int = 200
    val_every: int = 100
    log_every: int = 10
    grad_clip: float = 1.0
    val_rows: int = 512
    autoencoder: StageConfig = field(default_factory=StageConfig)
    embedding: StageConfig = field(default_factory=StageConfig)
    generator: StageConfig = field(default_factory=lambda: StageConfig(lr=2e-4))

    def __post_init__(self) -> None:
        for name in ("autoencoder", "embedding"):
            if getattr(self, name).init_from is not None:
                raise ConfigError(f"train.{name}.init_from is not supported; only train.generator.init_from "
                                  "(fine-tune a trained diffusion model) is")
        if self.batch_size < 2 or self.num_workers < 0 or self.checkpoint_every < 1 or self.val_every < 1:
            raise ConfigError(f"train: need batch_size >= 2, num_workers >= 0, checkpoint_every/val_every >= 1; "
                              f"got batch_size={self.batch_size}, num_workers={self.num_workers}, "
                              f"checkpoint_every={self.checkpoint_every}, val_every={self.val_every}")


@dataclass
class RunConfig:
    """A whole preset file: the model sections plus ``data:`` and ``train:``."""

    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def model(self) -> ModelConfig:
        return ModelConfig(self.autoencoder, self.embedding, self.diffusion)


def load_run_config(path: str | Path, overrides: Iterable[str] | None = ()) -> RunConfig:
    """Load a preset YAML (composed on its ``base:`` files; unknown keys are errors) and apply ``section.key=value``
    overrides (values parsed as YAML), e.g. ``["train.seed=3", "data.tasks=[reach]"]``."""
    return load_config(RunConfig, path, overrides or ())
