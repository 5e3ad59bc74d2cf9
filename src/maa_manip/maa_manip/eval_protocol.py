"""The MetaWorld evaluation protocol's shared steps (docs/manipulation.md), used by the ``training/`` scripts:

* prompt selection (:func:`task_prompts`): ``training/evaluate.py`` and ``training/behavior_modes.py`` draw the same
  prompts from the same seeds;
* merging evaluation runs into one summary (:func:`summarize`): ``training/summarize_eval.py``;
* the decoded-policy check of a run's autoencoder (:func:`check_autoencoder`): ``training/check_autoencoder.py``;
* clips of every method on the first prompts of a task (:func:`method_videos`): ``training/evaluate.py --video``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import zlib
from pathlib import Path

import numpy as np

log = logging.getLogger("evaluate")


def prompt_candidates(zoo, task: str, min_success: float = 0.0, max_iteration: int | None = None,
                      needs_success: bool = False) -> list[int]:
    """Row indices (within the task's view) of the checkpoints that may serve as prompts.

    ``min_success``: the checkpoint's recorded success; ``max_iteration``: only the early training stage (metadata
    ``iteration`` <= this, e.g. the first DAgger iterations; None: any stage); ``needs_success``: only checkpoints
    whose stored prompt episode (episode 0) reaches success, so that the prompt's ``v`` holds the states after a
    success rather than the episode's last states.
    """
    meta = zoo.filter(tasks=[task]).metadata
    ok = [i for i, m in enumerate(meta) if (m.get("success") or 0.0) >= min_success]
    if max_iteration is not None:
        missing = [i for i in ok if "iteration" not in meta[i]]
        if missing:
            raise SystemExit(f"task {task}: prompt_max_iteration needs the checkpoints' 'iteration' metadata "
                             f"(DAgger zoos), but {len(missing)} checkpoint(s) have none (e.g. row {missing[0]})")
        ok = [i for i in ok if int(meta[i]["iteration"]) <= max_iteration]
    if needs_success and ok:
        hit = np.asarray(zoo.trajectories(task)["traj_success"][ok])[:, 0].any(-1)
        ok = [i for i, h in zip(ok, hit) if h]
    return ok


def select_prompts(zoo, task: str, k: int, rng: np.random.Generator, min_success: float = 0.0,
                   max_iteration: int | None = None, needs_success: bool = False) -> list[int]:
    """Row indices (within the task's view) of ``k`` prompt checkpoints drawn from :func:`prompt_candidates` (with
    replacement if too few)."""
    ok = prompt_candidates(zoo, task, min_success, max_iteration, needs_success)
    if not ok:
        raise SystemExit(f"task {task}: no prompt checkpoint with success >= {min_success}, iteration <= "
                         f"{max_iteration}, episode success required: {needs_success}")
    return sorted(rng.choice(ok, size=k, replace=len(ok) < k).tolist())


def prompt_trajectories(zoo, task: str, rows: list[int]):
    from maa_core.prompt import Trajectory

    tr = zoo.trajectories(task)
    obs, act, suc = tr["traj_obs"][rows], tr["traj_act"][rows], tr["traj_success"][rows]
    return [Trajectory(obs[i, 0], act[i, 0], suc[i, 0], 0.0125, "metaworld", task) for i in range(len(rows))]


def task_prompts(zoo, task: str, cfg, rng: np.random.Generator, noise_rng: np.random.Generator):
    """The evaluation prompts of ``task`` under eval config ``cfg``: ``(rows [K], trajectories, h [K, Dh],
    v [K, Dv])``, with ``cfg.prompt_noise`` on the actions. Selection draws from ``rng``, noise from ``noise_rng``;
    callers that walk the tasks in the same order with the same two generators get the same prompts."""
    from maa_core.prompt import success_prompt
    from maa_manip.evaluation import noisy_trajectory

    rows = select_prompts(zoo, task, cfg.num_prompts, rng, cfg.prompt_min_success, cfg.prompt_max_iteration,
                          cfg.prompt_needs_success)
    trajs = [noisy_trajectory(t, cfg.prompt_noise, noise_rng) for t in prompt_trajectories(zoo, task, rows)]
    hv = [success_prompt(t.obs, t.act, t.success, zoo.prompt["n"], zoo.prompt["m"]) for t in trajs]
    return rows, trajs, np.stack([x[0] for x in hv]), np.stack([x[1] for x in hv])


def balanced_rows(metadata: list[dict], tasks: list[str], total: int, min_success: float = 0.5) -> list[int]:
    """Up to ``total`` row indices of checkpoints with ``success >= min_success``, the same number from each of
    ``tasks`` (evenly spaced within a task), so that multi-task BC pretrains on every task, not the first few."""
    per_task = max(1, total // max(len(tasks), 1))
    rows = []
    for task in tasks:
        ok = [i for i, m in enumerate(metadata) if m.get("task") == task and (m.get("success") or 0) >= min_success]
        if ok:
            pick = np.unique(np.linspace(0, len(ok) - 1, min(per_task, len(ok))).round().astype(int))
            rows += [ok[j] for j in pick]
    return sorted(rows)


def save_task_policies(path: Path, rows, methods: dict[str, np.ndarray], successes: dict[str, np.ndarray]) -> Path:
    """Write one task's evaluated policies: ``rows`` ``[K]`` (prompt checkpoints, within the task's view) and, per
    method ``m``, ``m__params`` ``[K, P]`` float32 and ``m__success`` ``[K, E]`` bool (atomically: temp + rename),
    for analyses that need the policies themselves (``training/memorization_metaworld.py``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"rows": np.asarray(rows, np.int64)}
    for name, params in methods.items():
        arrays[f"{name}__params"] = np.asarray(params, np.float32)
        arrays[f"{name}__success"] = np.asarray(successes[name], bool)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    tmp.replace(path)
    return path


def load_task_policies(path: Path) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Inverse of :func:`save_task_policies`: ``(rows [K], {method: (params [K, P], success [K, E])})``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no saved policies (evaluate with save_policies: true)")
    with np.load(path) as z:
        names = sorted({k.split("__")[0] for k in z.files if "__" in k})
        return z["rows"], {n: (z[f"{n}__params"], z[f"{n}__success"]) for n in names}


def baseline_policies(cfg, task: str, rows, trajs, h, v, retr, bank_params, bc_init, layout=None) -> dict:
    """``{baseline: [K, P] parameters}`` answering one task's ``K`` prompts, for the baselines in ``cfg.baselines``.

    Args:
        cfg: a :class:`maa_manip.config.PromptProtocolConfig`. rows: ``[K]`` the prompts' zoo rows. trajs: the ``K``
            prompt trajectories. h, v: ``[K, .]`` their success prompts. retr: the
            :class:`maa_manip.baselines.RetrievalBaseline` over the training bank. bank_params: ``[N, P]`` that bank.
        bc_init: ``[P]`` the multi-task BC policy to fine-tune per prompt, or None (no ``bc``).
        layout: the policy layout (None: MetaWorld's).
    """
    from maa_manip.baselines import finetune_bc

    methods = {}
    if "retrieval" in cfg.baselines:
        methods["retrieval"] = retr.retrieve(h, v)
    if "retrieval_noise" in cfg.baselines:
        methods["retrieval_noise"] = retr.retrieve(h, v, cfg.retrieval_noise_std, cfg.seed)
    if "random" in cfg.baselines:  # prompt-blind: what diversity alone scores under top-k
        pick = np.random.default_rng([cfg.seed, len(rows), sum(map(ord, task))]).choice(
            len(bank_params), size=len(rows), replace=len(bank_params) < len(rows))
        methods["random"] = np.stack([np.asarray(bank_params[int(i)], np.float32) for i in pick])
    if bc_init is not None:
        methods["bc"] = finetune_bc(bc_init, np.stack([t.obs for t in trajs]), np.stack([t.act for t in trajs]),
                                    steps=cfg.bc_steps, layout=layout)
    return methods


def task_rngs(seed: int, task: str) -> tuple[np.random.Generator, np.random.Generator]:
    """``(selection, noise)`` generators of one task's prompts, independent of the other tasks evaluated (config
    ``prompt_seed_per_task``): a run over some tasks draws the same prompts as a run over all, and can resume."""
    key = zlib.crc32(task.encode())
    return np.random.default_rng([seed, key]), np.random.default_rng([seed + 1, key])


class TaskCache:
    """Finished tasks of an evaluation run, one JSON file each (``<dir>/<task>.json``, written atomically), valid only
    for the run ``fingerprint`` (a digest of the resolved config and the generator's weights) they were made with."""

    def __init__(self, directory: Path, fingerprint: str):
        self.dir, self.fingerprint = Path(directory), fingerprint

    @staticmethod
    def generator_identity(meta: dict | None) -> str | None:
        """What of a saved generator decides its samples: the weights' sha256 and the model config beside them
        (its ``config.json``, which holds the sampling defaults such as the guidance weight and DDIM steps)."""
        if meta is None:
            return None
        config = hashlib.sha256(json.dumps(meta.get("config"), sort_keys=True).encode()).hexdigest()[:16]
        return f"{meta.get('sha256')}:{config}"

    @staticmethod
    def fingerprint_of(config: dict, generator_sha: str | None, skip_source: bool) -> str:
        """Digest of what decides a task's results (``out`` and ``plots`` do not); ``generator_sha`` is
        :meth:`generator_identity` of the generator (None: no generator)."""
        keep = {k: v for k, v in config.items() if k not in ("out", "plots", "save_policies", "splits")}
        blob = json.dumps({"config": keep, "generator": generator_sha, "skip_source": skip_source}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def for_run(cls, directory: Path, resolved_config: dict, generator_dir: Path | None,
                skip_source: bool) -> TaskCache:
        """The cache of one evaluation run: ``resolved_config`` (the config as a dict, with the resolved task
        lists) and the generator saved in ``generator_dir`` (None: baselines only) make its fingerprint."""
        from maa_generator.data.checkpoint import read_metadata

        gen_id = cls.generator_identity(read_metadata(generator_dir) if generator_dir is not None else None)
        return cls(directory, cls.fingerprint_of(resolved_config, gen_id, skip_source))

    def load(self, task: str) -> dict | None:
        """The task's saved record, or None (missing, unreadable, or made by another run configuration)."""
        path = self.dir / f"{task}.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return record if record.get("fingerprint") == self.fingerprint else None

    def save(self, task: str, record: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{task}.json"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({**record, "fingerprint": self.fingerprint}))
        tmp.replace(path)


def method_videos(task: str, trajs: list, methods: dict[str, np.ndarray], init_seeds: list[int], out_dir: Path,
                  num_prompts: int, steps: int) -> list[dict]:
    """For the first ``num_prompts`` prompts of ``task``: a clip per method (``methods[m][i]`` is prompt ``i``'s
    policy, ``[K, P]`` per method), all shown in prompt ``i``'s configuration ``init_seeds[i]``, plus a side-by-side
    clip and a hand-path plot (``maa_manip.rendering.write_method_clips``). Returns sections for
    ``maa_generator.media.write_clip_index``."""
    from maa_manip.rendering import write_method_clips

    sections = []
    for i in range(min(num_prompts, len(trajs))):
        res = write_method_clips(task, trajs[i], {m: p[i] for m, p in methods.items()}, int(init_seeds[i]), out_dir,
                                 f"{task}_prompt{i}", steps)
        sections.append({"heading": f"{task}, prompt {i} (configuration seed {init_seeds[i]})", "clips": res["clips"],
                         "notes": res["notes"], "images": [res["side_by_side"], res["paths"]]})
        log.info("video %s prompt %d: %s (%.1f s rendering, %.0f ms per frame)", task, i, res["notes"],
                 res["stats"].total_s, res["stats"].ms_per_frame)
    return sections


def check_autoencoder(run_dir: Path, zoo_path: Path, rows: int, episodes: int, steps: int, seed: int = 0) -> dict:
    """Decoded-policy quality of a run's trained autoencoder on its held-out validation checkpoints.

    For ``rows`` validation checkpoints (the run's own ``data.val_fraction`` split, never trained on): parameter
    MSE of the reconstruction, cosine to the original, and per-task success of original vs decoded policies
    (``episodes`` random configurations each). Returns a JSON-able dict.
    """
    import torch

    from maa_generator.models.generator import Generator
    from maa_generator.training.distributed import DistInfo
    from maa_generator.training.trainer import _split, load_stage_weights, open_training_zoo
    from maa_manip.evaluation import cosine, evaluate_policies

    cfg = load_run_config(run_dir)
    zoo = open_training_zoo(cfg, run_dir, DistInfo(), str(zoo_path))
    gen = Generator.build(zoo.layout, cfg.model)
    train_rows, val_rows = _split(zoo.num_checkpoints, cfg.data.val_fraction, cfg.train.seed)
    ae = gen.autoencoder
    params = zoo.params()
    ae.fit_normalizer(torch.from_numpy(np.ascontiguousarray(params[train_rows[: cfg.data.normalizer_rows]])))
    used = load_stage_weights(run_dir, "autoencoder", ae)
    ae.eval()
    val_rows = val_rows[:rows]
    orig = np.ascontiguousarray(params[val_rows]).astype(np.float32)
    with torch.no_grad():
        rec = ae.reconstruct(torch.from_numpy(orig)).numpy()
    tasks = [zoo.metadata[i]["task"] for i in val_rows]
    report: dict = {"checkpoint": str(used), "rows": len(val_rows), "param_mse": float(((rec - orig) ** 2).mean()),
                    "cosine_mean": float(cosine(rec, orig).mean()), "per_task": {}}
    for task in sorted(set(tasks)):
        idx = [i for i, t in enumerate(tasks) if t == task]
        s_o = evaluate_policies(task, orig[idx], episodes, seed, steps).mean(1)
        s_r = evaluate_policies(task, rec[idx], episodes, seed, steps).mean(1)
        report["per_task"][task] = {"n": len(idx), "original_success": float(s_o.mean()),
                                    "decoded_success": float(s_r.mean()),
                                    "original_top5": float(np.sort(s_o)[::-1][:5].mean()),
                                    "decoded_top5": float(np.sort(s_r)[::-1][:5].mean())}
        log.info("AE check %s: %s", task, report["per_task"][task])
    return report


def load_run_config(run_dir: Path):
    """The preset a run was trained with (``<run>/config.yaml`` minus the ``resolved`` bookkeeping section)."""
    from maa_core.config import from_dict, load_yaml
    from maa_generator.training.config import RunConfig

    path = Path(run_dir) / "config.yaml"
    data = load_yaml(path)
    data.pop("resolved", None)
    return from_dict(RunConfig, data, source=path)


def summarize(run_dirs: list[Path], out: Path, command: str, zoo_path: Path, root: Path | None = None,
              title: str = "MetaWorld results (merged)") -> dict:
    """Merge the ``results.json`` of several evaluation runs (same prompts, different methods) into
    ``out/summary.json``, ``out/results.md`` and ``out/top5.png``; returns the summary dict.

    Several runs with a ``maa`` method on the same tasks are generators trained with different seeds: ``maa`` becomes
    their per-task mean (the headline figures), and each run is also listed as ``maa_run<i>``. Runs on disjoint
    tasks (one evaluation split by task) are joined into one generator run first; the task lists are the union of
    the runs' own. ``summary["runs"]`` lists the run directories relative to ``root`` (the repository root, for the
    scripts) when they lie under it.
    """
    from maa_generator.data.zoo import Zoo
    from maa_manip.evaluation import SUMMARY_METRICS, average_over_tasks, markdown_tables

    results: dict = {"seen": {}, "unseen": {}}
    generator_runs: dict = {"seen": [], "unseen": []}
    configs, seconds = [], 0.0
    for d in run_dirs:
        r = json.loads((d / "results.json").read_text())
        configs.append(r["config"])
        seconds += r["seconds"]
        for split in ("seen", "unseen"):
            for method, by_task in r["results"].get(split, {}).items():
                if method == "maa":
                    generator_runs[split].append(by_task)
                else:
                    results[split].setdefault(method, {}).update(by_task)
    for split in generator_runs:
        runs = generator_runs[split] = _join_disjoint(generator_runs[split])
        if runs:
            tasks = list(dict.fromkeys(t for run in runs for t in run))  # a seed may cover fewer tasks
            results[split]["maa"] = {t: {k: float(np.mean([run[t][k] for run in runs if t in run]))
                                         for k in next(run[t] for run in runs if t in run)} for t in tasks}
        if len(runs) > 1:
            for i, run in enumerate(runs):
                results[split][f"maa_run{i}"] = run

    def mean(split: str, method: str, key: str = "top5") -> float | None:
        by_task = results[split].get(method)
        return round(average_over_tasks(by_task)[key], 4) if by_task else None

    zoo = Zoo.open(zoo_path)
    seen = list(dict.fromkeys(t for c in configs for t in c["seen_tasks"]))
    unseen = list(dict.fromkeys(t for c in configs for t in c["unseen_tasks"]))
    counts = {t: int(zoo.filter(tasks=[t]).num_checkpoints) for t in seen + unseen}
    summary = {
        "seen_top5_mean": mean("seen", "maa"),
        "unseen_top5_mean": mean("unseen", "maa"),
        "seen_nn_retrieval_top5_mean": mean("seen", "retrieval"),
        "seen_noisy_nn_top5_mean": mean("seen", "retrieval_noise"),
        "unseen_nn_retrieval_top5_mean": mean("unseen", "retrieval"),
        "unseen_noisy_nn_top5_mean": mean("unseen", "retrieval_noise"),
        "seen_bc_top5_mean": mean("seen", "bc"),
        "unseen_bc_top5_mean": mean("unseen", "bc"),
        "seen_random_top5_mean": mean("seen", "random"),
        "unseen_random_top5_mean": mean("unseen", "random"),
        "generator_runs": len(generator_runs["unseen"] or generator_runs["seen"]),
        "seen_top5_per_generator_run": [round(average_over_tasks(r)["top5"], 4) for r in generator_runs["seen"]],
        "unseen_top5_per_generator_run": [round(average_over_tasks(r)["top5"], 4) for r in generator_runs["unseen"]],
        "seen_tasks": list(seen),
        "unseen_tasks": unseen,
        "num_seen_tasks": len(seen),
        "num_unseen_tasks": len(unseen),
        "min_checkpoints_per_seen_task": min(counts[t] for t in seen),
        "checkpoints_per_task": counts,
        "num_prompts_per_task": configs[0]["num_prompts"],
        "episodes_per_policy": configs[0]["episodes"],
        "prompt_action_noise_std": configs[0]["prompt_noise"],
        "means": {split: {m: {k: mean(split, m, k) for k in SUMMARY_METRICS}
                          for m in results[split]} for split in results},
        "per_task": results,
        "eval_seconds": round(seconds, 1),
        "command": command,
        "runs": [str(d.relative_to(root)) if root is not None and d.is_relative_to(root) else str(d)
                 for d in run_dirs],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text(f"# {title}\n\n" + markdown_tables(results) + "\n")
    plot_top5(results, out / "top5.png")
    return summary


def _join_disjoint(runs: list[dict]) -> list[dict]:
    """Generator runs ``[{task: metrics}]`` -> the same, with each run merged into the first earlier one that shares no
    task with it (an evaluation split by task is one generator run; runs on the same tasks stay separate seeds)."""
    joined: list[dict] = []
    for run in filter(None, runs):  # a run without tasks in this split adds nothing
        slot = next((j for j in joined if not set(j) & set(run)), None)
        if slot is None:
            joined.append(dict(run))
        else:
            slot.update(run)
    return joined


def plot_top5(results: dict, path: Path) -> None:
    """Grouped bar chart: top-5 success per task and method, one panel per split that has results (seen | unseen);
    the legend goes in the last panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = [s for s in ("seen", "unseen") if results.get(s)] or ["seen"]
    fig, axes = plt.subplots(1, len(splits), figsize=(6.5 * len(splits), 3.8), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, split in zip(axes, splits):
        methods = list(results[split])
        tasks = list(next(iter(results[split].values()), {}))
        w = 0.8 / max(1, len(methods))
        for j, m in enumerate(methods):
            ax.bar(np.arange(len(tasks)) + j * w, [results[split][m].get(t, {}).get("top5", 0) for t in tasks], w,
                   label=m)
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - w / 2, tasks, rotation=20)
        ax.set_title(f"{split} tasks: top-5 success")
    axes[0].set_ylabel("success rate")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
