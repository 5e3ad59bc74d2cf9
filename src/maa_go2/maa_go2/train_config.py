"""The Go2 PPO training configuration (the ``train:`` section of ``config/go2_*.yaml``), one class for both engines.

Neither torch nor MuJoCo is imported here: the Isaac Gym runner loads its configuration before Isaac Gym, which
refuses to load after torch. Also runs on the GPU box's Python 3.8, where :func:`load_train_config` reads a resolved
file without ``maa_core.config`` (OmegaConf, Python >= 3.10).
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from maa_go2.env_config import EnvConfig


@dataclass
class PPOConfig:
    """PPO settings (:class:`maa_go2.ppo.PPO`): rollout length, epochs, losses, learning rates, initial noise."""

    steps_per_env: int = 24
    epochs: int = 5
    minibatches: int = 4
    clip: float = 0.2
    gamma: float = 0.99
    lam: float = 0.95
    value_coef: float = 1.0
    entropy_coef: float = 0.01
    lr: float = 1e-3
    desired_kl: float = 0.01
    max_grad_norm: float = 1.0
    adaptation_lr: float = 1e-3
    #: epochs (of ``epochs``) in which the adaptation module also takes a step per minibatch; None = every epoch.
    #: Its regression is most of the update's compute on a CPU (1050 inputs), and 2 of 5 epochs halve the update.
    adaptation_epochs: int | None = None
    init_noise_std: float = 1.0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.minibatches < 1:
            raise ValueError(f"ppo.epochs and ppo.minibatches must be >= 1, got {self.epochs}, {self.minibatches}")
        if self.adaptation_epochs is not None and not 1 <= self.adaptation_epochs <= self.epochs:
            raise ValueError(f"ppo.adaptation_epochs must be null (every epoch) or in [1, epochs={self.epochs}], "
                             f"got {self.adaptation_epochs}")


@dataclass
class Go2TrainConfig:
    """Go2 PPO training run: iterations, checkpointing, the task (``env``) and PPO settings. One YAML for both
    engines; ``torch_threads`` and ``sim_threads`` only matter on MuJoCo."""

    seed: int = 0
    iterations: int = 1500
    save_interval: int = 50
    log_interval: int = 1
    torch_threads: int = 1
    sim_threads: int = 1
    run_dir: str = "runs/go2"
    #: stop (after a checkpoint) once this much training wall clock has been spent over all sittings; 0 = no limit
    max_wall_clock_s: float = 0.0
    #: path of a pretrained adaptation module (safetensors): loaded and kept frozen; "" trains one concurrently
    adaptation_init: str = ""
    #: a Go2 PPO checkpoint (``ckpt_*.pt``, either engine) whose actor-critic and optimizer state start a *fresh*
    #: run: fine-tuning (the iteration count starts over; ignored once the run has checkpoints of its own). A run
    #: directory stands for its newest checkpoint when the run starts, recorded in its ``config.yaml`` and kept on
    #: resume (:func:`maa_go2.run_dir.pin_init_from`)
    init_from: str = ""
    #: with ``init_from``: also start from its command / gait curriculum state (the opened command box and gaits, the
    #: env-step count of the gait-frequency stage), so the fine-tuning continues that run's training under changed
    #: settings instead of reopening its curricula from the start
    init_curriculum: bool = False
    #: keep only the newest this many full checkpoints (5 MB each); actors and adaptation modules are all kept.
    #: 0 = keep every checkpoint
    keep_checkpoints: int = 0
    #: when training starts or resumes, spread the envs' episode clocks over the episode (rsl_rl's
    #: init_at_random_ep_len; :func:`maa_go2.env_config.staggered_episode_steps`). The runs up to the fourth agility
    #: run trained without it.
    stagger_episodes: bool = True
    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)

    def __post_init__(self) -> None:
        for name in ("iterations", "save_interval", "log_interval", "torch_threads", "sim_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"train.{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.keep_checkpoints, bool) or not isinstance(self.keep_checkpoints, int) \
                or self.keep_checkpoints < 0:
            raise ValueError(f"train.keep_checkpoints must be an integer >= 0 (0 = keep all), "
                             f"got {self.keep_checkpoints!r}")
        if self.init_curriculum and not self.init_from:
            raise ValueError("train.init_curriculum: true needs train.init_from (the checkpoint whose curriculum "
                             "state the run continues); set init_from or drop init_curriculum")


def load_train_config(path: str | Path, overrides=()) -> Go2TrainConfig:
    """The ``train:`` section of a YAML file -> :class:`Go2TrainConfig`.

    On Python >= 3.10 through ``maa_core.config`` (``base:`` composition, ``train.key=value`` overrides, full
    validation: unknown keys, wrong types and bad values raise ``ConfigError``). On Python 3.8 (the Isaac Gym box)
    from a resolved file (a run's ``config.yaml``, or ``--dump-config`` output) with :func:`dataclass_from_plain`.

    Raises:
        ValueError: (3.8) overrides, a composed file, or an unknown key.
    """
    if sys.version_info >= (3, 10):  # noqa: UP036 - this module also runs on the GPU box's Python 3.8
        from maa_core.config import load_config

        return load_config(Go2TrainConfig, path, list(overrides), section="train")
    return load_resolved_train_config(path, overrides)


def read_resolved_yaml(path: str | Path, overrides=()) -> dict:
    """Python 3.8 (the Isaac Gym box): the mapping of a resolved YAML, which needs no ``maa_core.config``.

    Raises:
        ValueError: overrides, or a file composed on ``base:`` files (both need Python >= 3.10).
    """
    if overrides:
        raise ValueError("--set needs Python >= 3.10; resolve the config with --dump-config first")
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    if "base" in data:
        raise ValueError(f"{path} is composed on base files; resolve it with --dump-config on Python >= 3.10")
    return data


def load_resolved_train_config(path: str | Path, overrides=()) -> Go2TrainConfig:
    """Python 3.8 path of :func:`load_train_config`: a resolved YAML, no composition, no overrides."""
    data = read_resolved_yaml(path, overrides)
    return dataclass_from_plain(Go2TrainConfig, data.get("train", data))


def dataclass_from_plain(cls, data: dict, where: str = "train"):
    """Build dataclass ``cls`` from a plain mapping (a resolved YAML); nested dataclasses are recognised from their
    default factories, so no annotation is evaluated (Python 3.8 cannot evaluate ``list[float]``).

    Raises:
        ValueError: an unknown key, or a mapping where a value is expected.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        f = fields[name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ValueError(f"{where}.{name}: expected a mapping, got {value!r}")
            value = dataclass_from_plain(type(default), value, f"{where}.{name}")
        kwargs[name] = value
    return cls(**kwargs)


def config_dict(cfg: Go2TrainConfig) -> dict:
    """``cfg`` as a plain dict of builtins for YAML, JSON and checkpoints (``maa_core.config.to_dict`` where it
    imports; the configs hold no tuples, so ``dataclasses.asdict`` gives the same on Python 3.8)."""
    if sys.version_info >= (3, 10):  # noqa: UP036
        from maa_core.config import to_dict

        return to_dict(cfg)
    return dataclasses.asdict(cfg)
