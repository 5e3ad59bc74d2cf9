"""The Go2 PPO run directory, one layout for both engines (MuJoCo and Isaac Gym)::

    config.yaml                 resolved configuration (``train:`` section; loads with ``--config`` on either engine)
    checkpoints/ckpt_XXXXX.pt   full state: ``model``, ``ppo`` (optimizers), ``iteration``, ``wall_clock_s``,
                                ``config``, ``curriculum``, ``engine``; tensors (on the CPU) and plain Python types
                                only (loaded with ``weights_only=True``), written atomically
    actors/actor_XXXXX.safetensors       generated-network format (flat params + PolicyLayout; extra: iteration,
                                         seed, history_len, engine)
    adaptation/adaptation_XXXXX.safetensors
    summary.json                wall clock, iterations, latest metrics
    curve.jsonl                 one learning-curve row per iteration (:data:`CURVE_KEYS`)
    tb/                         TensorBoard

Resume takes the newest checkpoint that loads and validates; a truncated or corrupt newer one (a disk error, or a
kill during a save of an older maa version) is skipped with a warning naming the file. Either engine resumes the
other's run. No MuJoCo, no rclpy: this module also runs on the Isaac Gym box (Python 3.8).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import re
import warnings
from pathlib import Path

import numpy as np
import torch
import yaml

from maa_core.atomic_io import atomic_torch_save, atomic_write_text, remove_stale_temps, torch_load_safe
from maa_core.weights_io import save_weights_file
from maa_go2.checkpoints import save_adaptation
from maa_go2.train_config import Go2TrainConfig, config_dict

RUN_SUBDIRS = ("checkpoints", "actors", "adaptation")
#: keys (and types) every checkpoint holds; ``config``, ``curriculum`` and ``engine`` come with them
CHECKPOINT_KEYS = {"model": dict, "ppo": dict, "iteration": int, "wall_clock_s": (int, float)}
#: per-iteration learning-curve columns (``curve.jsonl``), besides iteration, env_steps and wall_clock_s
CURVE_KEYS = ("vx_abs_error", "vy_abs_error", "yaw_abs_error", "contact_match", "curriculum_coverage", "gaits_open",
              "reward_per_step", "falls_per_1k_env_steps")
_CKPT_RE = re.compile(r"^ckpt_(\d+)\.pt$")
_FIX = "delete it to resume from an older checkpoint, or retrain"


def prepare_run(cfg: Go2TrainConfig) -> Path:
    """Create ``cfg.run_dir`` with its sub-folders and write ``config.yaml``; returns the run directory."""
    run = Path(cfg.run_dir)
    for sub in RUN_SUBDIRS:
        (run / sub).mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / "config.yaml", yaml.safe_dump({"train": config_dict(cfg)}, sort_keys=False))
    return run


# ------------------------------------------------------------------------------------------ checkpoints
def checkpoint_files(folder: str | Path) -> list[Path]:
    """``ckpt_<iteration>.pt`` files in ``folder``, newest (highest iteration) first."""
    found = [(int(m.group(1)), p) for p in Path(folder).glob("ckpt_*.pt") if (m := _CKPT_RE.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def resolve_checkpoint(path: str | Path, what: str) -> str:
    """``path`` itself when it is a checkpoint file; for a run directory, its newest checkpoint (a run that stopped
    on its wall-clock budget ends at an iteration no config can name in advance).

    Raises:
        ValueError: neither a file nor a run directory with checkpoints (``what`` names the setting).
    """
    if Path(path).is_file():
        return str(path)
    found = checkpoint_files(Path(path) / "checkpoints") if Path(path).is_dir() else []
    if not found:
        raise ValueError(f"{what}: {path} is neither a checkpoint file nor a run directory with checkpoints/ckpt_*.pt;"
                         " train that run first")
    return str(found[0])


def pinned_checkpoint(configured: str | Path, saved: str | Path | None, what: str) -> str:
    """The checkpoint ``configured`` (a file, or a run directory) stands for: ``saved`` when that is a checkpoint of
    the configured run directory (chosen earlier, kept), else :func:`resolve_checkpoint` of ``configured``."""
    if saved and Path(saved).is_file() and Path(saved).parent.parent == Path(configured):
        return str(saved)
    return resolve_checkpoint(configured, what)


def pinned_record(run: Path, name: str) -> dict:
    """The YAML file ``run``/``name`` where the run already has checkpoints of its own (what it chose when it
    started, kept on resume); ``{}`` for a fresh run, which chooses again."""
    path = run / name
    if path.is_file() and checkpoint_files(run / "checkpoints"):
        return yaml.safe_load(path.read_text()) or {}
    return {}


def pin_init_from(cfg: Go2TrainConfig) -> Go2TrainConfig:
    """``cfg`` with ``train.init_from`` as a checkpoint file. A run directory stands for its newest checkpoint, chosen
    once: a run that has checkpoints of its own keeps the one its ``config.yaml`` (written when it started) names, so
    its lineage (:func:`lineage_curve`, the cost of what it started from) does not move when the source run trains
    on."""
    if not cfg.init_from or Path(cfg.init_from).is_file():
        return cfg
    saved = (pinned_record(Path(cfg.run_dir), "config.yaml").get("train") or {}).get("init_from")
    return dataclasses.replace(cfg, init_from=pinned_checkpoint(cfg.init_from, saved, "train.init_from"))


def load_checkpoint(path: Path, ac, ppo) -> dict:
    """Load ``path`` (either engine's) into ``ac`` / ``ppo`` (weights_only, never unpickled; tensors go to the
    model's device); returns the state.

    Raises:
        ValueError: unreadable file, missing / mistyped keys, iteration that disagrees with the file name, or
            tensors that do not fit the model and optimizers.
    """
    state = torch_load_safe(path, "Go2 PPO checkpoint", _FIX)
    if not isinstance(state, dict):
        raise ValueError(f"Go2 PPO checkpoint {path} holds a {type(state).__name__}, expected a dict; {_FIX}")
    bad = [k for k, t in CHECKPOINT_KEYS.items() if not isinstance(state.get(k), t)]
    if bad:
        raise ValueError(f"Go2 PPO checkpoint {path} lacks or mistypes {bad}; expected {list(CHECKPOINT_KEYS)}; "
                         f"{_FIX}")
    if f"ckpt_{state['iteration']:05d}.pt" != Path(path).name:
        raise ValueError(f"Go2 PPO checkpoint {path} holds iteration {state['iteration']}; {_FIX}")
    try:
        ac.load_state_dict(state["model"])
        ppo.load_state_dict(state["ppo"])
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        raise ValueError(f"Go2 PPO checkpoint {path} does not fit this model / config ({type(e).__name__}: "
                         f"{str(e).splitlines()[0]}); {_FIX}") from e
    return state


def load_initial_weights(path: str | Path, ac, ppo=None) -> dict:
    """Load the actor-critic of checkpoint ``path`` into ``ac`` (fine-tuning from another run), and into ``ppo`` its
    optimizer moments and adaptive learning rate; returns the state.

    The optimizer state matters: a fresh Adam at the configured ``ppo.lr`` (1e-3) moves every weight of a trained
    actor by about ``lr`` in its first step (the agility actor's schedule had settled at 7.6e-5); measured on the
    agility actor, the first update's KL was 5.5 and its yaw tracking error went from 0.24 to 1.3 rad/s in 3
    iterations.

    Raises:
        ValueError: a missing or unreadable file, or weights that do not fit ``ac`` / ``ppo``.
    """
    if not Path(path).is_file():
        raise ValueError(f"train.init_from: no checkpoint at {path}; expected a ckpt_*.pt of a Go2 PPO run")
    state = torch_load_safe(path, "Go2 PPO checkpoint", "train.init_from must name a checkpoint written by run_ppo")
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise ValueError(f"train.init_from: {path} holds no 'model' state dict; expected a ckpt_*.pt of run_ppo")
    try:
        ac.load_state_dict(state["model"])
        if ppo is not None:
            ppo.load_state_dict(state["ppo"])
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        raise ValueError(f"train.init_from: {path} does not fit this model ({type(e).__name__}: "
                         f"{str(e).splitlines()[0]}); is env.history_len the same?") from e
    return state


def prune_checkpoints(folder: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints in ``folder`` (``keep == 0``: none deleted); returns the
    deleted paths."""
    if keep <= 0:
        return []
    old = checkpoint_files(folder)[keep:]
    for path in old:
        path.unlink()
    return old


def resume_checkpoint(folder: str | Path, ac, ppo) -> dict | None:
    """Load the newest checkpoint in ``folder`` that loads and validates into ``ac`` / ``ppo``; returns its state
    (None if there is no checkpoint). Each newer file that fails is reported with a ``RuntimeWarning`` naming it.

    Raises:
        ValueError: checkpoints exist but none loads (the message lists each file and why).
    """
    files = checkpoint_files(folder)
    errors = []
    for path in files:
        try:
            return load_checkpoint(path, ac, ppo)  # a later success overwrites any partial load of a failure
        except ValueError as e:  # includes UnsafeFileError (unreadable / pickled file)
            errors.append(str(e))
            warnings.warn(f"skipping {e}", RuntimeWarning, stacklevel=2)
    if errors:
        raise ValueError(f"no usable Go2 PPO checkpoint in {folder} ({len(files)} found):\n  " + "\n  ".join(errors)
                         + "\nstart with resume=False or delete the run directory to train from scratch")
    return None


def to_cpu(obj):
    """Tensors in nested dicts / lists / tuples moved to the CPU (checkpoints load on any machine)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def save_run(run: Path, it: int, ac, ppo, wall: float, cfg: Go2TrainConfig, summary: dict, sampler,
             engine: str) -> None:
    """Checkpoint, actor weights file, adaptation module and summary of iteration ``it``, all on the CPU.

    ``sampler`` is the engine's :class:`~maa_go2.curriculum.CommandSampler` (its curriculum state is checkpointed);
    ``engine`` (``"mujoco"`` / ``"isaacgym"``) labels the checkpoint and the actor file.
    """
    path = run / "checkpoints" / f"ckpt_{it:05d}.pt"
    remove_stale_temps(path)
    curriculum = {k: torch.from_numpy(np.asarray(v)) for k, v in sampler.state_dict().items()}
    atomic_torch_save({"model": to_cpu(ac.state_dict()), "ppo": to_cpu(ppo.state_dict()), "iteration": int(it),
                       "wall_clock_s": float(wall), "config": config_dict(cfg), "curriculum": curriculum,
                       "engine": engine}, path)
    save_weights_file(run / "actors" / f"actor_{it:05d}.safetensors", ac.layout,
                      ac.layout.flatten(to_cpu(ac.actor.state_dict())),
                      extra={"iteration": int(it), "seed": cfg.seed, "history_len": cfg.env.history_len,
                             "engine": engine})
    save_adaptation(run / "adaptation" / f"adaptation_{it:05d}.safetensors", copy.deepcopy(ac.adaptation).cpu())
    atomic_write_text(run / "summary.json", json.dumps(summary, indent=2))
    prune_checkpoints(run / "checkpoints", cfg.keep_checkpoints)  # after the new one is safely on disk


# ------------------------------------------------------------------------------------------ learning curve
def append_curve(run: Path, row: dict) -> None:
    """Append one row to ``run/curve.jsonl`` (a kill can at worst truncate the last line; readers skip it)."""
    with open(run / "curve.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")


def read_curve(run: str | Path) -> list[dict]:
    """Rows of ``run/curve.jsonl`` in order; unparsable lines (a truncated last line) are skipped."""
    path = Path(run) / "curve.jsonl"
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def truncate_curve(run: Path, iteration: int) -> None:
    """Drop curve rows after ``iteration`` (the checkpoint training resumes from), atomically."""
    rows = [r for r in read_curve(run) if r.get("iteration", 0) <= iteration]
    atomic_write_text(run / "curve.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


def lineage_curve(run: str | Path, _depth: int = 0) -> list[dict]:
    """The learning curve of ``run`` with the stages it was fine-tuned from in front.

    When the run's saved config (``config.yaml``) names ``train.init_from``, the source run's rows up to that
    checkpoint come first and this run's rows follow with ``iteration``, ``env_steps`` and ``wall_clock_s`` continued
    from there, so a fine-tuned actor's cost includes the training it started from. Every row gains ``stage`` (the
    run folder it comes from) and ``stage_iteration`` (its iteration within that run). A source that is gone (no
    ``curve.jsonl``) ends the chain.
    """
    run = Path(run)
    rows = [{**r, "stage": str(run), "stage_iteration": r["iteration"]} for r in read_curve(run)]
    cfg_path = run / "config.yaml"
    source = ""
    if cfg_path.is_file():
        source = ((yaml.safe_load(cfg_path.read_text()) or {}).get("train") or {}).get("init_from") or ""
    match = _CKPT_RE.match(Path(source).name) if source else None
    if match is None or _depth >= 16:
        return rows
    src_run, src_it = Path(source).parent.parent, int(match.group(1))
    earlier = lineage_curve(src_run, _depth + 1)
    cut = next((k for k, r in enumerate(earlier)
                if r["stage"] == str(src_run) and r["stage_iteration"] > src_it), len(earlier))
    earlier = earlier[:cut]
    if not earlier:
        return rows
    last = earlier[-1]
    return earlier + [{**r, "iteration": r["iteration"] + last["iteration"],
                       "env_steps": r["env_steps"] + last["env_steps"],
                       "wall_clock_s": round(r["wall_clock_s"] + last["wall_clock_s"], 2)} for r in rows]
