"""Gait teachers distilled into one Go2 actor by supervised learning (DAgger), on the shared task interface.

PPO on this actor and budget does not keep four gaits at once: pace is kept beside trot and lost once pronk and
bound train beside it (``docs/go2_agility.md``, "The tenth run"). Here every gait has a teacher, a Go2 PPO checkpoint
that walks it, and one student (THE generated network's layout, :func:`maa_go2.actor_critic.go2_actor_layout`)
learns all of them by regression:

* the env is stepped with the student's mean action (DAgger: the student is taught in the states it reaches), or
  with the teachers' for the first ``teacher_iterations`` iterations;
* each step's label is the mean action of the teacher of that env's commanded gait (read from the gait commands in
  the observation), from the teacher's own actor and adaptation module on the same observation history;
* the student's adaptation module stays as loaded from ``student_init`` (frozen; it estimates physical quantities,
  so every teacher's actor reads the same kind of latent);
* the command grids start from the teachers': each gait's grid is its teacher's grid for that gait.

The run directory is a Go2 PPO run's (:mod:`maa_go2.run_dir`): checkpoints resume here and load into
``train_go2.py`` for PPO fine-tuning; ``curve.jsonl`` continues the student's lineage and adds the teachers' own
training once (:func:`teacher_cost`), so the evaluation reports the whole cost.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from maa_core.atomic_io import atomic_write_text
from maa_go2.actor_critic import ActorCritic
from maa_go2.commands import GAITS
from maa_go2.curriculum import gait_index
from maa_go2.observation import obs_slices
from maa_go2.ppo import PPO
from maa_go2.ppo_loop import Tally, command_metrics, flush_denormals
from maa_go2.run_dir import (
    CURVE_KEYS,
    append_curve,
    lineage_curve,
    load_initial_weights,
    pinned_checkpoint,
    pinned_record,
    prepare_run,
    resume_checkpoint,
    save_run,
    truncate_curve,
)
from maa_go2.train_config import Go2TrainConfig, dataclass_from_plain, read_resolved_yaml

#: in a distillation run's folder: the teacher and student-start checkpoints it uses (:func:`pin_checkpoints`)
PINNED_FILE = "distill_checkpoints.yaml"
_COMMANDS = obs_slices()["commands"]  # the gait's phase, offset and bound are commands 5-7, scale 1


@dataclass
class DistillConfig:
    """The ``distill:`` section: which checkpoint teaches which gait, and the regression."""

    #: gait name -> teacher checkpoint (``runs/<run>/checkpoints/ckpt_XXXXX.pt`` of a Go2 PPO run, or the run
    #: directory: its newest checkpoint)
    teachers: dict = field(default_factory=dict)
    #: checkpoint (or run directory) the student starts from: its actor and adaptation module
    student_init: str = ""
    lr: float = 3e-4
    epochs: int = 2
    minibatches: int = 4
    #: the first iterations step the env with the teachers' actions (the student's states after that)
    teacher_iterations: int = 0

    def __post_init__(self) -> None:
        if not self.teachers:
            raise ValueError("distill.teachers: name a teacher checkpoint for every gait, e.g. "
                             "{trot: runs/a/checkpoints/ckpt_01000.pt, pace: ...}")
        unknown = [g for g in self.teachers if g not in GAITS]
        if unknown:
            raise ValueError(f"distill.teachers: unknown gait(s) {unknown}; expected names of {sorted(GAITS)}")
        if not self.student_init:
            raise ValueError("distill.student_init: name the checkpoint the student starts from")
        if self.lr <= 0 or self.epochs < 1 or self.minibatches < 1 or self.teacher_iterations < 0:
            raise ValueError(f"distill: need lr > 0, epochs >= 1, minibatches >= 1, teacher_iterations >= 0; got "
                             f"{self.lr}, {self.epochs}, {self.minibatches}, {self.teacher_iterations}")


def load_distill_config(path: str | Path, overrides=()) -> DistillConfig:
    """The ``distill:`` section of a YAML file -> :class:`DistillConfig` (as
    :func:`maa_go2.train_config.load_train_config` reads the ``train:`` section): on Python >= 3.10 through
    ``maa_core.config`` (``base:`` composition, ``distill.KEY=VALUE`` overrides, unknown keys refused); on Python 3.8
    (the Isaac Gym box) from a resolved file.

    Raises:
        ValueError: no ``distill:`` section, an unknown key or a bad value (``ConfigError`` is a ``ValueError``);
            on Python 3.8 also overrides or a composed file (:func:`~maa_go2.train_config.read_resolved_yaml`).
    """
    if sys.version_info >= (3, 10):  # noqa: UP036 - the Isaac runner also imports this module on Python 3.8
        from maa_core.config import load_config

        return load_config(DistillConfig, path, list(overrides), section="distill")
    data = read_resolved_yaml(path, overrides)
    if "distill" not in data:
        raise ValueError(f"{path}: no distill: section (teachers, student_init, ...)")
    return dataclass_from_plain(DistillConfig, data["distill"] or {}, "distill")


def resolved(dcfg: DistillConfig, saved: dict | None = None) -> DistillConfig:
    """``dcfg`` with every teacher and the student's start as checkpoint files (:func:`resolve_checkpoint`); where
    ``saved`` (a run's :data:`PINNED_FILE`) names a checkpoint of the configured run directory, that one."""
    saved = saved or {}
    teachers = {g: pinned_checkpoint(p, (saved.get("teachers") or {}).get(g), "distill.teachers")
                for g, p in dcfg.teachers.items()}
    return dataclasses.replace(dcfg, teachers=teachers, student_init=pinned_checkpoint(
        dcfg.student_init, saved.get("student_init"), "distill.student_init"))


def pin_checkpoints(dcfg: DistillConfig, run: Path) -> DistillConfig:
    """:func:`resolved` chosen once per run: the checkpoints are written to ``run``/:data:`PINNED_FILE` when it
    starts and kept when it resumes (once it has checkpoints of its own), so that the student's labels and its
    teachers' cost do not move when a teacher run trains on."""
    out = resolved(dcfg, pinned_record(run, PINNED_FILE))
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / PINNED_FILE, yaml.safe_dump({"teachers": out.teachers, "student_init": out.student_init}))
    return out


def check_gaits(train: Go2TrainConfig, distill: DistillConfig) -> None:
    """Every gait the task commands has a teacher, the task opens all of them from the start, and keeps one command
    grid per gait.

    Raises:
        ValueError: a commanded gait without a teacher, a gait curriculum that keeps some closed, or no per-gait grids.
    """
    missing = [g for g in train.env.commands.gaits if g not in distill.teachers]
    if missing:
        raise ValueError(f"distill.teachers has no teacher for commanded gait(s) {missing}")
    cur = train.env.curriculum
    if 0 < cur.gaits_initial < len(train.env.commands.gaits):
        raise ValueError("distill: set train.env.curriculum.gaits_initial to 0 (every gait has its teacher from the "
                         f"start), got {cur.gaits_initial}")
    if not (cur.enabled and cur.per_gait):
        raise ValueError("distill: set train.env.curriculum.enabled and per_gait to true (each gait's commands come "
                         "from its teacher's grid)")


class Teachers:
    """The teacher actors and adaptation modules, one per distinct checkpoint, frozen; :meth:`act` labels a batch."""

    def __init__(self, paths: dict, gaits: list[str], history_len: int, device="cpu"):
        self.gaits = list(gaits)
        self.table = torch.tensor([GAITS[g] for g in self.gaits], dtype=torch.float32)
        self.models: dict[str, ActorCritic] = {}
        for path in sorted({str(paths[g]) for g in self.gaits}):
            ac = ActorCritic(history_len).to(device)
            load_initial_weights(path, ac)
            self.models[path] = ac.eval().requires_grad_(False)
        self.of_gait = [self.models[str(paths[g])] for g in self.gaits]

    def gait_of(self, obs: torch.Tensor) -> torch.Tensor:
        """``[N]`` index into ``gaits`` of each env's commanded gait (from the observation); -1 for none."""
        idx = gait_index(obs[:, _COMMANDS].detach().cpu().numpy(), self.table.numpy())
        return torch.from_numpy(idx).to(obs.device)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, hist: torch.Tensor, gait: torch.Tensor) -> torch.Tensor:
        """``[N, 12]`` mean action of each env's gait's teacher (observation ``[N, 70]``, history ``[N, H*70]``).

        Raises:
            ValueError: an env commands a gait that has no teacher.
        """
        if bool((gait < 0).any()):
            raise ValueError("distill: an env commands a gait none of the teachers walks; commands.gaits must be "
                             f"a subset of {self.gaits}")
        out = torch.zeros(obs.shape[0], 12, device=obs.device)
        for k, teacher in enumerate(self.of_gait):
            rows = gait == k
            if bool(rows.any()):
                out[rows] = teacher.actor(teacher.actor_input(obs[rows], hist[rows]))
        return out


def teacher_grids(paths: dict, gaits: list[str]) -> np.ndarray:
    """``[G, cells_vx, cells_yaw]``: each gait's command grid from its teacher's checkpoint (the teacher's grid for
    that gait when it kept one per gait, else its one shared grid)."""
    from maa_core.atomic_io import torch_load_safe

    grids = []
    for gait in gaits:
        state = torch_load_safe(paths[gait], "Go2 PPO checkpoint", "distill.teachers must name ckpt_*.pt files")
        weights = np.asarray(state["curriculum"]["weights"])
        if weights.ndim == 3:
            weights = weights[list(state["config"]["env"]["commands"]["gaits"]).index(gait)]
        grids.append(weights)
    return np.stack(grids)


def teacher_cost(paths: dict, student_init: str) -> tuple[float, int]:
    """``(wall clock s, env steps)`` of the teachers' training outside the student's own lineage (shared stages
    counted once): what distilling them costs on top of the student's curve."""
    def lineage(ckpt: str) -> list[dict]:
        run, it = Path(ckpt).parent.parent, int(Path(ckpt).stem.split("_")[1])
        rows = lineage_curve(run)
        cut = next((k for k, r in enumerate(rows) if r["stage"] == str(run) and r["stage_iteration"] > it), len(rows))
        return rows[:cut]

    counted = {(r["stage"], r["stage_iteration"]) for r in lineage(student_init)}
    wall = steps = 0.0
    for path in sorted({str(p) for p in paths.values()}):
        rows, last_wall, last_steps = lineage(path), 0.0, 0
        for r in rows:
            if (r["stage"], r["stage_iteration"]) not in counted:
                wall += r["wall_clock_s"] - last_wall
                steps += r["env_steps"] - last_steps
                counted.add((r["stage"], r["stage_iteration"]))
            last_wall, last_steps = r["wall_clock_s"], r["env_steps"]
    return float(wall), int(steps)


def distill_iteration(env, student: ActorCritic, teachers: Teachers, opt, dcfg: DistillConfig, steps: int,
                      obs, hist, use_teacher: bool):
    """One rollout of ``steps`` steps and the regression on it; returns ``(obs, hist)``, the iteration's tracking
    metrics (:class:`~maa_go2.ppo_loop.Tally`) and the student's mean squared action error on the rollout
    ``(before, after)`` the update."""
    n, tally = env.num_envs, Tally(obs.device)
    inputs, labels = [], []
    with torch.no_grad():
        for _ in range(steps):
            a_in = student.actor_input(obs, hist)
            label = teachers.act(obs, hist, teachers.gait_of(obs))
            act = label if use_teacher else student.actor(a_in)
            inputs.append(a_in)
            labels.append(label)
            obs, _, rew, _, extras = env.step(act)
            tally.add(rew, extras)
            hist = env.get_obs_history()
    x, y = torch.cat(inputs), torch.cat(labels)
    with torch.no_grad():
        before = float(((student.actor(x) - y) ** 2).mean())
    mb = max(1, x.shape[0] // dcfg.minibatches)
    for _ in range(dcfg.epochs):
        perm = torch.randperm(x.shape[0], device=x.device)
        for i in range(dcfg.minibatches):
            idx = perm[i * mb:(i + 1) * mb]
            loss = ((student.actor(x[idx]) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        after = float(((student.actor(x) - y) ** 2).mean())
    return (obs, hist), tally.metrics(steps, n), (before, after)


def run_distill(env, cfg: Go2TrainConfig, dcfg: DistillConfig, device="cpu", progress: bool = True,
                engine: str = "mujoco") -> dict:
    """Distill ``dcfg.teachers`` into one actor on ``env`` (the task interface of :mod:`maa_go2.ppo_loop`); resumes
    from ``cfg.run_dir``. ``cfg.init_from`` is set to ``dcfg.student_init`` so that the curve carries the student's
    lineage. Returns the final summary (also ``summary.json``)."""
    check_gaits(cfg, dcfg)
    dcfg = pin_checkpoints(dcfg, Path(cfg.run_dir))
    cfg = dataclasses.replace(cfg, init_from=dcfg.student_init, init_curriculum=False)
    torch.manual_seed(cfg.seed)
    flush_denormals()
    run = prepare_run(cfg)
    student = ActorCritic(cfg.env.history_len, cfg.ppo.init_noise_std).to(device)
    ppo = PPO(student, cfg.ppo)  # its optimizer trains the actor; the checkpoint is a PPO run's
    state = resume_checkpoint(run / "checkpoints", student, ppo)
    if state is None:
        load_initial_weights(dcfg.student_init, student)
        env.sampler.load_state_dict({"weights": teacher_grids(dcfg.teachers, cfg.env.commands.gaits)})
    elif state.get("curriculum"):
        env.sampler.load_state_dict({k: v.numpy() for k, v in state["curriculum"].items()})
    for group in ppo.opt.param_groups:
        group["lr"] = dcfg.lr
    start_it, wall0 = (state["iteration"], float(state["wall_clock_s"])) if state else (0, 0.0)
    truncate_curve(run, start_it)
    extra_wall, extra_steps = teacher_cost(dcfg.teachers, dcfg.student_init)
    teachers = Teachers(dcfg.teachers, cfg.env.commands.gaits, cfg.env.history_len, device)
    if cfg.stagger_episodes:
        env.stagger_episodes(cfg.seed + start_it)
    obs, hist = env.obs_buf, env.get_obs_history()
    n, steps = env.num_envs, cfg.ppo.steps_per_env
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=start_it, desc="go2 distill")
    t0, summary = time.time(), {}
    for it in range(start_it, cfg.iterations):
        teacher_steps = it < dcfg.teacher_iterations
        (obs, hist), metrics, (loss, fitted) = distill_iteration(env, student, teachers, ppo.opt, dcfg, steps, obs,
                                                                 hist, use_teacher=teacher_steps)
        it1, wall = it + 1, wall0 + time.time() - t0
        metrics.update(**command_metrics(env.sampler), distill_mse=loss, distill_mse_after=fitted)
        append_curve(run, {"iteration": it1, "env_steps": it1 * n * steps + extra_steps,
                           "wall_clock_s": round(wall + extra_wall, 2), "distill_mse": round(loss, 6),
                           "distill_mse_after": round(fitted, 6),
                           **{k: round(float(metrics[k]), 5) for k in CURVE_KEYS}})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(mse=f"{loss:.4f}", vx=f"{metrics['vx_abs_error']:.3f}",
                            match=f"{metrics['contact_match']:.2f}")
        out_of_time = cfg.max_wall_clock_s > 0 and wall >= cfg.max_wall_clock_s  # this run's own, as in PPO runs
        if it1 % cfg.save_interval == 0 or it1 == cfg.iterations or out_of_time:
            summary = {"iterations": it1, "train_wall_clock_s": wall, "teacher_wall_clock_s": extra_wall,
                       "env_steps": it1 * n * steps, "num_envs": n, "seed": cfg.seed, "engine": engine,
                       "metrics": metrics, "teachers": dict(dcfg.teachers)}
            save_run(run, it1, student, ppo, wall, cfg, summary, env.sampler, engine)
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    return summary
