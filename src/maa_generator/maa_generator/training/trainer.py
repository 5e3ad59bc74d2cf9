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

Checkpoint directories are written to a temporary directory, fsynced and renamed into place, so a run killed at any
point resumes (``resume=True``) from its last complete checkpoint with the same optimizer, scheduler, step and RNG
state.
Batches are a pure function of ``(seed, stage, step)``, so a resumed run draws the same batches as an uninterrupted
one.
"""
from __future__ import annotations

import math
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from maa_core.atomic_io import atomic_write_text, durable_rename_dir
from maa_core.config import ConfigError, to_dict
from maa_core.layout import PolicyLayout
from maa_generator.data.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from maa_generator.data.novelty import NoveltyReference
from maa_generator.data.synthetic_zoo import make_synthetic_zoo
from maa_generator.data.zoo import Zoo
from maa_generator.models.generator import Generator
from maa_generator.training.config import (  # noqa: F401 - re-exported
    STAGES,
    DataConfig,
    RunConfig,
    StageConfig,
    TrainConfig,
    load_run_config,
)
from maa_generator.training.distributed import DistInfo, LossModule, all_mean, barrier, check_in_sync, shard_rows, wrap


# --------------------------------------------------------------------------- atomic checkpoint directories
def _atomic_dir(dest: Path, write: Callable[[Path], None]) -> None:
    """Write a directory via ``write(tmp)`` then swap it into ``dest`` (old copy kept as ``.old-*`` until done)."""
    tmp = dest.with_name(f".tmp-{dest.name}-{os.getpid()}")
    old = dest.with_name(f".old-{dest.name}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".tmp-{dest.name}-*"):  # left by a killed writer
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.rename(dest, old)
    durable_rename_dir(tmp, dest)  # every file fsynced before the rename, the parent directory after it
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
                                         num_workers=tcfg.num_workers,
                                         generator=torch.Generator().manual_seed(tcfg.seed))  # keeps global RNG

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
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
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


# --------------------------------------------------------------------------- the three-stage pipeline
def open_training_zoo(cfg: RunConfig, out: Path, info: DistInfo, zoo_path: str | None = None) -> Zoo:
    """Open (or, for ``data.synthetic``, build under ``<out>/synthetic_zoo``) the zoo and apply the data filters."""
    path = zoo_path or cfg.data.zoo
    if path is None:
        if not cfg.data.synthetic:
            raise ConfigError("no policy zoo: pass --zoo PATH, set data.zoo, or use --synthetic (CI data)")
        path = out / "synthetic_zoo"
        if info.is_main:
            layout = PolicyLayout.from_dict(cfg.data.synthetic_layout)
            e = cfg.embedding
            make_synthetic_zoo(path, layout, e.n_steps, e.m_states, cfg.data.synthetic_tasks,
                               cfg.data.synthetic_per_task, e.segments, seed=cfg.train.seed)
        barrier(info)
    zoo = Zoo.open(path)
    if cfg.data.tasks is not None or cfg.data.min_success is not None:
        zoo = zoo.filter(tasks=cfg.data.tasks, min_success=cfg.data.min_success)
    if zoo.num_checkpoints < 4:
        raise ConfigError(f"zoo {path} has {zoo.num_checkpoints} checkpoints after filtering; need at least 4")
    return zoo


def _check_prompt_dims(zoo: Zoo, gen: Generator) -> None:
    e, p = gen.config.embedding, zoo.prompt
    emb = gen.embedding
    got = {"n": e.n_steps, "m": e.m_states, "segments": e.segments, "h_dim": emb.h_dim, "v_dim": emb.v_dim}
    bad = {k: (p[k], v) for k, v in got.items() if p[k] != v}
    if bad:
        raise ConfigError(f"embedding config does not match the zoo prompts {p}: (zoo, config) = {bad}; set "
                          "embedding.n_steps/m_states/segments/obs_dim/act_dim accordingly")


def _split(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_val = min(n - 2, max(2, int(round(frac * n))))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _chunked_mean(fn: Callable, rows: np.ndarray, size: int) -> float:
    """Mean of ``fn(rows_chunk)`` over chunks of ``size`` (last chunk merged if it would have < 2 rows)."""
    bounds = list(range(0, len(rows), size))
    if len(bounds) > 1 and len(rows) - bounds[-1] < 2:
        bounds.pop()
    ends = bounds[1:] + [len(rows)]
    vals = [float(fn(rows[a:b])) for a, b in zip(bounds, ends)]
    return float(np.mean(vals))


def _encode_all(fn: Callable, n: int, size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(np.arange(a, min(n, a + size))).cpu() for a in range(0, n, size)])


def run_training(cfg: RunConfig, out: str | Path, stage: str = "all", resume: bool = False,
                 zoo_path: str | None = None, info: DistInfo | None = None) -> dict:
    """Train ``stage`` (``autoencoder`` | ``embedding`` | ``generator`` | ``all``) into run directory ``out``.

    Returns a summary dict (per-stage step/best_val, zoo path, generator path when written).
    """
    if stage not in (*STAGES, "all"):
        raise ValueError(f"stage must be one of {[*STAGES, 'all']}, got {stage!r}")
    info = info or DistInfo()
    out = Path(out)
    tcfg = cfg.train
    torch.manual_seed(tcfg.seed + info.rank)
    np.random.seed(tcfg.seed + info.rank)
    random.seed(tcfg.seed + info.rank)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
    barrier(info)
    zoo = open_training_zoo(cfg, out, info, zoo_path)
    gen = Generator.build(zoo.layout, cfg.model)
    _check_prompt_dims(zoo, gen)
    resolved = {**to_dict(cfg), "resolved": {"zoo": str(zoo.root), "synthetic_zoo": zoo.synthetic,
                                             "layout": zoo.layout.to_dict(), "world_size": info.world_size,
                                             "num_checkpoints": zoo.num_checkpoints}}
    writer = None
    if info.is_main:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
    todo = STAGES if stage == "all" else (stage,)
    for name in todo:
        if not resume and _existing(out / "stages" / name / "last") is not None:
            raise FileExistsError(f"{out}/stages/{name} already has a checkpoint; pass --resume to continue it or "
                                  "choose another --out")
    train_rows, val_rows = _split(zoo.num_checkpoints, cfg.data.val_fraction, tcfg.seed)
    val_rows = val_rows[: tcfg.val_rows]
    dev = info.device
    summary: dict = {"zoo": str(zoo.root), "stages": {}}
    params = zoo.params()
    h_all, v_all = zoo.prompts()
    vsize = max(2, tcfg.batch_size)

    def tensor(view, rows) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(view[rows]))

    ae = gen.autoencoder
    ae.fit_normalizer(tensor(params, train_rows[: cfg.data.normalizer_rows]))
    if "autoencoder" in todo:
        spec = StageSpec("autoencoder", ae, lambda m, x: m.loss(x), lambda r: (tensor(params, train_rows[r]),),
                         len(train_rows),
                         lambda m: _chunked_mean(lambda r: m.loss(tensor(params, r).to(dev))[0], val_rows, vsize))
        summary["stages"]["autoencoder"] = train_stage(spec, tcfg.autoencoder, tcfg, out, resolved, info, resume,
                                                       writer)
    emb = gen.embedding
    emb.fit_normalizer(tensor(h_all, train_rows[: cfg.data.normalizer_rows]),
                       tensor(v_all, train_rows[: cfg.data.normalizer_rows]))
    if "embedding" in todo:
        spec = StageSpec("embedding", emb, lambda m, h, v: m.loss(h, v),
                         lambda r: (tensor(h_all, train_rows[r]), tensor(v_all, train_rows[r])), len(train_rows),
                         lambda m: _chunked_mean(lambda r: m.loss(tensor(h_all, r).to(dev),
                                                                  tensor(v_all, r).to(dev))[0], val_rows, vsize))
        summary["stages"]["embedding"] = train_stage(spec, tcfg.embedding, tcfg, out, resolved, info, resume, writer)
    if "generator" in todo:
        summary["stages"]["generator"] = _train_generator(gen, zoo, out, cfg, resolved, info, resume, writer,
                                                          train_rows, val_rows)
        if info.is_main:
            final = out / "generator"
            extra = {"zoo": str(zoo.root), "domain": zoo.domain, "synthetic_zoo": zoo.synthetic, "run_dir": str(out),
                     "steps": {k: v["step"] for k, v in summary["stages"].items()}}
            _atomic_dir(final, lambda tmp: gen.cpu().save(tmp, extra=extra))
            summary["generator"] = str(final)
        barrier(info)
    if writer is not None:
        writer.close()
    return summary


def _init_diffusion(diff: torch.nn.Module, source: Path, info: DistInfo) -> None:
    """Initialize the diffusion model from another run's trained one (its normalizers are refit afterwards).

    ``source`` is a training run directory (its generator stage's best/last checkpoint) or a saved generator (e.g.
    the bundled ``models/metaworld/generator``). A generation-only generator holds only the EMA denoiser, which then
    initializes both the trained copy and the EMA copy.
    """
    try:
        if (source / "stages").is_dir():
            where = load_stage_weights(source, "generator", diff)
        elif (source / "model.safetensors").is_file():
            _load_diffusion_from_generator(diff, source)
            where = source
        else:
            raise ConfigError(f"train.generator.init_from={source}: expected a training run directory (with "
                              "stages/generator/) or a saved generator directory (with model.safetensors)")
    except CheckpointError as exc:  # shape mismatch: another latent or condition shape
        raise ConfigError(f"train.generator.init_from={source}: its diffusion model does not fit this one "
                          f"(latent and condition shapes must match): {exc}") from exc
    if info.is_main:
        print(f"[generator] initialized from {where}", flush=True)


def _load_diffusion_from_generator(diff: torch.nn.Module, path: Path) -> None:
    """Copy a saved generator's diffusion weights (float32) into ``diff``; raise CheckpointError on any mismatch."""
    from maa_generator.models.generator import Generator

    src = Generator.load(path).diffusion
    state = {k: v.float() if v.is_floating_point() else v for k, v in src.state_dict().items()}
    if src.unet is None:  # generation-only: the EMA denoiser is all there is
        state.update({"unet." + k[len("ema."):]: v.clone() for k, v in state.items() if k.startswith("ema.")})
        state["ema_updates"] = torch.zeros_like(state["ema_updates"])
    own = diff.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [f"{k}: {list(state[k].shape)} vs {list(v.shape)}" for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or extra or wrong:
        raise CheckpointError(f"{path}: diffusion weights differ (missing {missing[:3]}, unexpected {extra[:3]}, "
                              f"shapes {wrong[:3]})")
    diff.load_state_dict(state)


def _train_generator(gen: Generator, zoo: Zoo, out: Path, cfg: RunConfig, resolved: dict, info: DistInfo,
                     resume: bool, writer, train_rows: np.ndarray, val_rows: np.ndarray) -> dict:
    """Encode the zoo with the trained AE, embed its prompts, then train the latent diffusion."""
    dev, tcfg = info.device, cfg.train
    ae, emb, diff = gen.autoencoder.to(dev), gen.embedding.to(dev), gen.diffusion
    load_stage_weights(out, "autoencoder", ae)
    load_stage_weights(out, "embedding", emb)
    ae.eval()
    emb.eval()
    params = zoo.params()
    h_all, v_all = zoo.prompts()
    n, size = zoo.num_checkpoints, max(2, tcfg.batch_size)

    def rows_tensor(view, rows):
        return torch.from_numpy(np.ascontiguousarray(view[rows])).to(dev)

    if tcfg.generator.init_from and _existing(out / "stages" / "generator" / "last") is None:
        _init_diffusion(diff, Path(tcfg.generator.init_from), info)
    latents = _encode_all(lambda r: ae.encode(rows_tensor(params, r)), n, size)
    cond = _encode_all(lambda r: emb.embed(rows_tensor(h_all, r), rows_tensor(v_all, r)), n, size)
    if info.is_main:
        (out / "cache").mkdir(exist_ok=True)
        np.save(out / "cache" / "latents.npy", latents.numpy())
        np.save(out / "cache" / "cond.npy", cond.numpy())
    diff.fit_latent_normalizer(latents[torch.from_numpy(train_rows)])
    diff.fit_cond_normalizer(cond[torch.from_numpy(train_rows)])
    tr, va = torch.from_numpy(train_rows), torch.from_numpy(val_rows)
    spec = StageSpec("generator", diff, lambda m, z, c: m.loss(z, c),
                     lambda r: (latents[tr[r]], cond[tr[r]]), len(train_rows),
                     lambda m: _chunked_mean(lambda r: m.loss(latents[r].to(dev), cond[r].to(dev))[0],
                                             va.numpy(), size),
                     after_step=lambda m: m.update_ema())
    result = train_stage(spec, tcfg.generator, tcfg, out, resolved, info, resume, writer)
    load_stage_weights(out, "generator", diff)
    gen.novelty = NoveltyReference.fit(cond[torch.from_numpy(train_rows)].cpu(), seed=tcfg.seed)
    return result
