"""Fan (task, seed) collection jobs out over Ray (local, or a cluster via ``RAY_ADDRESS``) or a process pool.

Workers only compute; the driver writes every shard (one writer per zoo, so ``zoo.json`` never races) as soon
as its job returns, so an interrupted scale-out resumes shard by shard like the serial collector.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from maa_manip.config import CollectConfig
from maa_manip.jobs import Job, run_job, write_result

log = logging.getLogger("maa_manip.scaleout")


def _work(cfg: CollectConfig, job: Job, root: str):
    import torch

    torch.set_num_threads(max(1, cfg.torch_threads))
    return run_job(cfg, job, root)


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def run_parallel(cfg: CollectConfig, writer, jobs: list[Job], workers: int, backend: str = "auto",
                 progress=None) -> list[dict]:
    """Run ``jobs`` on ``workers`` processes; returns the written shard entries.

    Args:
        backend: ``ray``, ``pool`` or ``auto`` (Ray if importable, else a local process pool, logged).
        progress: optional tqdm bar advanced once per finished job.
    """
    if backend not in ("auto", "ray", "pool"):
        raise ValueError(f"backend must be auto|ray|pool, got {backend!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    use_ray = backend == "ray" or (backend == "auto" and ray_available())
    if backend == "auto" and not use_ray:
        log.warning("ray is not installed: falling back to a local process pool with %d workers", workers)
    root = str(writer.root)
    entries: list[dict] = []

    def done(job: Job, result) -> None:
        entries.append(write_result(cfg, writer, job, result))
        log.info("shard %s: %d checkpoints in %.1f s", job.key, len(result.params), result.seconds)
        if progress is not None:
            progress.update(1)

    if use_ray:
        import ray

        address = os.environ.get("RAY_ADDRESS")
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                     log_to_driver=False)
        log.info("ray: %s, %d job(s)", address or f"local ({workers} cpus)", len(jobs))
        remote = ray.remote(num_cpus=1)(_work)
        pending = {remote.remote(cfg, job, root): job for job in jobs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                done(pending.pop(ref), ray.get(ref))
        return entries
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_work, cfg, job, root): job for job in jobs}
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
    return entries
