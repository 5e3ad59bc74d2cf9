"""Three-stage training of the generator (ROS-free; CLI in ``training/train.py``).

Stages, in order: ``autoencoder`` (zoo parameters) -> encode the zoo to latents -> ``embedding`` (zoo prompts
``h``/``v``) -> ``generator`` (latent diffusion of a checkpoint's latent conditioned on the frozen embedding of the
same checkpoint's prompt). The run directory::

    <out>/config.yaml                       resolved config (also next to every checkpoint)
    <out>/tb/                               TensorBoard logs
    <out>/stages/<stage>/last/              model/ (safetensors), state.pt (optimizer, step, RNG), config.yaml
    <out>/stages/<stage>/best/              model/ + config.yaml of the lowest validation loss
    <out>/cache/latents.npy, cond.npy       zoo latents / embedding conditions used by the generator stage
    <out>/generator/                        final :class:`Generator` directory (``Generator.load``)

Checkpoint directories are written to a temporary directory and renamed into place, so a run killed at any point
resumes (``resume=True``) from its last complete checkpoint with the same optimizer, scheduler, step and RNG state.
Batches are a pure function of ``(seed, stage, step)``, so a resumed run draws the same batches as an uninterrupted
one.
"""
from __future__ import annotations

import math
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from .checkpoint import load_checkpoint, save_checkpoint
from .config import AutoencoderConfig, ConfigError, DiffusionConfig, EmbeddingConfig, ModelConfig, from_dict, to_dict
from .distributed import DistInfo, LossModule, all_mean, barrier, check_in_sync, shard_rows, wrap
from .generator import Generator
from .layout import PolicyLayout
from .synthetic_zoo import make_synthetic_zoo
from .zoo import Zoo

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
    """One stage's optimization: ``steps`` AdamW steps at ``lr`` (linear warm-up, cosine decay to 10%)."""

    steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    batch_size: int | None = None

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


def _set_dotted(data: dict, key: str, value) -> None:
    parts = key.split(".")
    cur = data
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
        if not isinstance(cur, dict):
            raise ConfigError(f"override {key}: {p} is not a section")
    cur[parts[-1]] = value


def load_run_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Load a preset YAML (unknown keys are errors) and apply ``key.sub=value`` overrides (values parsed as YAML)."""
    from .config import load_yaml

    data = load_yaml(path)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, val = item.split("=", 1)
        _set_dotted(data, key.strip(), yaml.safe_load(val))
    try:
        return from_dict(RunConfig, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------- atomic checkpoint directories
def _atomic_dir(dest: Path, write: Callable[[Path], None]) -> None:
    """Write a directory via ``write(tmp)`` then swap it into ``dest`` (old copy kept as ``.old-*`` until done)."""
    tmp = dest.with_name(f".tmp-{dest.name}-{os.getpid()}")
    old = dest.with_name(f".old-{dest.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    if dest.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.rename(dest, old)
    os.rename(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def _existing(dest: Path) -> Path | None:
    """``dest`` if complete, else the previous copy left by a crash during the swap, else ``None``."""
    for cand in (dest, dest.with_name(f".old-{dest.name}")):
        if (cand / "state.pt").is_file() or (cand / "model" / "config.json").is_file():
            return cand
    return None


def _rng_state() -> dict:
    st = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [st[0], torch.from_numpy(st[1].astype(np.int64)), int(st[2]), int(st[3]), float(st[4])]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- generic stage loop
@dataclass
class StageSpec:
    """What a stage trains.

    Args:
        name: stage name (directory under ``stages/``).
        module: the module whose weights the stage checkpoints.
        loss: ``loss(module, *batch) -> (loss, metrics)``.
        batch: ``batch(rows: int64 tensor) -> tuple of tensors`` for training rows (indices into the train split).
        n_train: number of training rows.
        val: ``val(module) -> float`` validation loss (deterministic).
        after_step: called after each optimizer step (e.g. EMA update).
    """

    name: str
    module: torch.nn.Module
    loss: Callable
    batch: Callable
    n_train: int
    val: Callable
    after_step: Callable | None = None


def _batch_rows(seed: int, stage: str, step: int, n: int, size: int) -> torch.Tensor:
    """Global batch for ``step``: a pure function of ``(seed, stage, step)`` (rows drawn without replacement)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + STAGES.index(stage) * 7919 + step)
    return torch.randperm(n, generator=g)[: min(size, n)] if size <= n else torch.randint(n, (size,), generator=g)


class _Batches(torch.utils.data.Dataset):
    def __init__(self, spec: StageSpec, seed: int, size: int, info: DistInfo, start: int, steps: int):
        self.spec, self.seed, self.size, self.info, self.start, self.steps = spec, seed, size, info, start, steps

    def __len__(self) -> int:
        return self.steps - self.start

    def __getitem__(self, i: int):
        rows = _batch_rows(self.seed, self.spec.name, self.start + i, self.spec.n_train, self.size)
        return self.spec.batch(shard_rows(rows, self.info))


def train_stage(spec: StageSpec, scfg: StageConfig, tcfg: TrainConfig, run_dir: Path, resolved: dict,
                info: DistInfo, resume: bool = False, writer=None, stop_after: int | None = None) -> dict:
    """Run (or resume) one stage. Returns ``{"step", "best_val", "resumed_from"}``.

    ``stop_after`` ends the call after that many steps of this call (used to emulate an interruption in tests).
    """
    from tqdm import tqdm

    stage_dir = run_dir / "stages" / spec.name
    module = spec.module.to(info.device)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=scfg.lr, weight_decay=scfg.weight_decay)

    def lr_lambda(step: int) -> float:
        if step < scfg.warmup_steps:
            return (step + 1) / scfg.warmup_steps
        frac = (step - scfg.warmup_steps) / max(1, scfg.steps - scfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    step, best_val, resumed_from = 0, float("inf"), 0
    last = _existing(stage_dir / "last")
    if resume and last is not None:
        load_checkpoint(last / "model", {"module": module})
        state = torch.load(last / "state.pt", map_location="cpu", weights_only=True)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, best_val, resumed_from = int(state["step"]), float(state["best_val"]), int(state["step"])
        _set_rng_state(state["rng"][min(info.rank, len(state["rng"]) - 1)])
        if info.is_main:
            print(f"[{spec.name}] resuming from step {step} ({last})", flush=True)
    elif resume and info.is_main:
        print(f"[{spec.name}] no checkpoint in {stage_dir}; starting from step 0", flush=True)
    if step >= scfg.steps:
        return {"step": step, "best_val": best_val, "resumed_from": resumed_from}

    size = scfg.batch_size or tcfg.batch_size
    ddp = wrap(LossModule(module, spec.loss), info)
    loader = torch.utils.data.DataLoader(_Batches(spec, tcfg.seed, size, info, step, scfg.steps), batch_size=None,
                                         num_workers=tcfg.num_workers)

    def save(dest_name: str, with_state: bool) -> None:
        rng = [_rng_state()]
        if info.enabled:  # every rank's RNG so a resumed DDP run continues each stream
            gathered = [None] * info.world_size
            torch.distributed.all_gather_object(gathered, rng[0])
            rng = gathered
        if not info.is_main:
            return

        def write(tmp: Path) -> None:
            save_checkpoint(tmp / "model", {"module": module}, resolved, {"stage": spec.name, "step": step})
            (tmp / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
            if with_state:
                torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                            "best_val": best_val, "rng": rng}, tmp / "state.pt")

        _atomic_dir(stage_dir / dest_name, write)

    bar = tqdm(total=scfg.steps, initial=step, desc=spec.name, disable=not info.is_main, mininterval=1.0)
    module.train()
    done_here = 0
    for batch in loader:
        batch = tuple(b.to(info.device, non_blocking=True) for b in batch)
        loss, metrics = ddp(*batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if tcfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, tcfg.grad_clip)
        opt.step()
        sched.step()
        if spec.after_step is not None:
            spec.after_step(module)
        step += 1
        done_here += 1
        bar.update(1)
        if info.is_main and writer is not None and (step % tcfg.log_every == 0 or step == scfg.steps):
            for k, v in metrics.items():
                writer.add_scalar(f"{spec.name}/train_{k}", v, step)
            writer.add_scalar(f"{spec.name}/lr", sched.get_last_lr()[0], step)
            bar.set_postfix(loss=f"{float(loss):.4f}")
        if step % tcfg.val_every == 0 or step == scfg.steps:
            val = all_mean(_validate(spec, module), info)
            if info.is_main and writer is not None:
                writer.add_scalar(f"{spec.name}/val_loss", val, step)
            if val < best_val:
                best_val = val
                save("best", with_state=False)
        if step % tcfg.checkpoint_every == 0 or step == scfg.steps:
            save("last", with_state=True)
            barrier(info)
        if stop_after is not None and done_here >= stop_after:
            break
    bar.close()
    check_in_sync(module, info, spec.name)
    return {"step": step, "best_val": best_val, "resumed_from": resumed_from}


def _validate(spec: StageSpec, module: torch.nn.Module) -> float:
    was = module.training
    module.eval()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(12345)
        val = float(spec.val(module))
    module.train(was)
    return val


def load_stage_weights(run_dir: Path, stage: str, module: torch.nn.Module) -> Path:
    """Load ``best`` (else ``last``) weights of ``stage`` into ``module``; raise if the stage never ran."""
    stage_dir = Path(run_dir) / "stages" / stage
    for name in ("best", "last"):
        d = _existing(stage_dir / name)
        if d is not None:
            load_checkpoint(d / "model", {"module": module})
            return d
    raise FileNotFoundError(f"stage {stage!r} has no checkpoint under {stage_dir}; train it first "
                            f"(--stage {stage} or --stage all)")


def stage_complete(run_dir: Path, stage: str, steps: int) -> bool:
    d = _existing(Path(run_dir) / "stages" / stage / "last")
    if d is None or not (d / "state.pt").is_file():
        return False
    return int(torch.load(d / "state.pt", map_location="cpu", weights_only=True)["step"]) >= steps
