"""(task, seed) collection jobs: resumable, one zoo shard per job, written by a single process."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from maa_generator.data.zoo import ZooWriter, prompt_spec
from maa_manip.config import CollectConfig, run_name_for, to_dict
from maa_manip.domains import collect_domain

log = logging.getLogger("maa_manip.jobs")


@dataclass(frozen=True)
class Job:
    task: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.task}/s{self.seed}"


def open_writer(cfg: CollectConfig, root: str | Path | None = None) -> ZooWriter:
    """The zoo writer at ``root`` (default ``cfg.root``) for the config's domain, with its SAC layout and success
    prompts."""
    dom = collect_domain(cfg.domain, cfg.robot, cfg.control)
    prompt = prompt_spec("success", dom.obs_dim, dom.act_dim, cfg.prompt_n, cfg.prompt_m)
    return ZooWriter(root or cfg.root, dom.name, dom.layout, prompt, config=to_dict(cfg))


def all_jobs(cfg: CollectConfig) -> list[Job]:
    """Every (task, seed) pair of the config, task-major."""
    canonical = collect_domain(cfg.domain, cfg.robot, cfg.control).canonical_task
    return [Job(canonical(t), int(s)) for t in cfg.tasks for s in cfg.seeds]


def pending_jobs(cfg: CollectConfig, writer: ZooWriter, jobs: Iterable[Job] | None = None) -> list[Job]:
    """Jobs whose shard is not complete yet (finished shards are skipped on resume)."""
    jobs = all_jobs(cfg) if jobs is None else list(jobs)
    todo = [j for j in jobs if not writer.has_shard(j.task, run_name_for(cfg, j.seed))]
    if len(todo) < len(jobs):
        log.info("resume: skipping %d finished shard(s), %d job(s) left", len(jobs) - len(todo), len(todo))
    return todo


def write_result(cfg: CollectConfig, writer: ZooWriter, job: Job, result) -> dict:
    """Add the shard of a finished job and drop its partial-run checkpoint."""
    entry = writer.add_shard(job.task, run_name_for(cfg, job.seed), result.params, result.h, result.v,
                             result.meta, trajectories=result.traj)
    partial = Path(writer.root) / "partial" / f"{job.task}__{run_name_for(cfg, job.seed)}.pt"
    partial.unlink(missing_ok=True)
    return entry


def run_job(cfg: CollectConfig, job: Job, root: str | Path | None, progress=None, log_fn=None):
    """Run one job with the configured collector (in whatever process calls it)."""
    if cfg.collector == "dagger":
        from maa_manip.dagger import run_dagger

        return run_dagger(job.task, job.seed, cfg, Path(root) if root else None, progress, log_fn)
    from maa_manip.sac import run_sac_job

    return run_sac_job(job.task, job.seed, cfg, Path(root) if root else None, progress, log_fn)


def run_serial(cfg: CollectConfig, writer: ZooWriter, jobs: list[Job], progress_factory: Callable | None = None,
               log_fn=None) -> list[dict]:
    """Run jobs one after another in this process, writing each shard as soon as it finishes."""
    entries = []
    for job in jobs:
        bar = progress_factory(job) if progress_factory else None
        result = run_job(cfg, job, writer.root, bar, log_fn)
        if bar is not None:
            bar.close()
        entries.append(write_result(cfg, writer, job, result))
        log.info("shard %s: %d checkpoints in %.1f s (%d env steps)", job.key, len(result.params), result.seconds,
                 result.env_steps)
    return entries
