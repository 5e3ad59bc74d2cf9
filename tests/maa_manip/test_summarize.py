"""training/summarize_eval.py (maa_manip.eval_protocol.summarize): merging evaluation runs, generator seeds averaged
into the headline."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from maa_core.layout import PolicyLayout
from maa_generator.data.synthetic_zoo import make_synthetic_zoo
from maa_manip.eval_protocol import summarize

ROOT = Path(__file__).resolve().parents[2]

SEEN, UNSEEN = ["task0", "task1"], ["task2", "task3"]


def _metrics(top5: float, mean: float) -> dict:
    return {"top5": top5, "top10": top5, "qualified": mean / 2, "mean": mean, "num_policies": 10}


def _write_run(path: Path, methods: dict[str, tuple[float, float]], seen=SEEN, unseen=UNSEEN) -> Path:
    """One training/evaluate.py output: every method gets the same (top5, mean) on every task, offset per task."""
    res = {split: {m: {t: _metrics(max(0.0, v[0] - 0.1 * i), v[1]) for i, t in enumerate(tasks)}
                   for m, v in methods.items()}
           for split, tasks in (("seen", seen), ("unseen", unseen))}
    cfg = {"seen_tasks": seen, "unseen_tasks": unseen, "num_prompts": 10, "episodes": 2, "prompt_noise": 0.1}
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({"results": res, "config": cfg, "seconds": 1.5}))
    return path


def test_generator_seeds_are_averaged_and_listed(tmp_path):
    zoo = make_synthetic_zoo(tmp_path / "zoo", PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,)), n=5, m=2,
                             num_tasks=4, per_task=3)
    runs = [_write_run(tmp_path / "baselines", {"retrieval": (0.5, 0.3), "random": (0.9, 0.2)}),
            _write_run(tmp_path / "maa_s0", {"maa": (1.0, 0.6)}),
            _write_run(tmp_path / "maa_s1", {"maa": (0.6, 0.2)})]
    summary = summarize(runs, tmp_path / "out", "cmd", zoo)
    # task offsets: unseen top-5 per run = mean(1.0, 0.9) and mean(0.6, 0.5)
    assert summary["unseen_top5_per_generator_run"] == [0.95, 0.55]
    assert summary["unseen_top5_mean"] == pytest.approx(0.75)
    assert summary["means"]["unseen"]["maa"]["mean"] == pytest.approx(0.4)
    assert summary["generator_runs"] == 2
    assert summary["unseen_nn_retrieval_top5_mean"] == pytest.approx(0.45)
    assert summary["unseen_random_top5_mean"] == pytest.approx(0.85)
    assert summary["min_checkpoints_per_seen_task"] == 3 and summary["eval_seconds"] == 4.5
    assert {"maa_run0", "maa_run1"} <= set(summary["means"]["seen"])
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| maa_run1 | task3 |" in table and (tmp_path / "out" / "top5.png").stat().st_size > 0
    assert table.startswith("# MetaWorld results (merged)")
    per_task = summary["per_task"]["unseen"]  # every method's figures per task, not only the means
    assert per_task["maa"]["task3"]["top5"] == pytest.approx((0.9 + 0.5) / 2)
    assert set(per_task["maa_run0"]) == {"task2", "task3"}
    single = summarize(runs[:2], tmp_path / "one", "cmd", zoo)
    assert single["generator_runs"] == 1 and "maa_run0" not in single["means"]["unseen"]
    assert single["unseen_top5_mean"] == pytest.approx(0.95)


def test_runs_split_by_task_are_one_generator_run(tmp_path):
    """An evaluation run per task group (e.g. robosuite's Lift + Door, then NutAssemblySingle): the maa runs join
    into one generator run, the baselines merge by task, and the task lists are the union."""
    zoo = make_synthetic_zoo(tmp_path / "zoo", PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,)), n=5, m=2,
                             num_tasks=4, per_task=3)
    runs = [_write_run(tmp_path / "maa_ab", {"maa": (1.0, 0.5), "random": (0.4, 0.1)}, ["task0", "task1"], []),
            _write_run(tmp_path / "maa_c", {"maa": (0.2, 0.1), "random": (0.3, 0.1)}, ["task2"], [])]
    summary = summarize(runs, tmp_path / "out", "cmd", zoo)
    assert summary["seen_tasks"] == ["task0", "task1", "task2"] and summary["generator_runs"] == 1
    per_task = summary["per_task"]["seen"]
    assert set(per_task) == {"maa", "random"}  # no maa_run<i>: not seeds
    assert {t: per_task["maa"][t]["top5"] for t in per_task["maa"]} == pytest.approx(
        {"task0": 1.0, "task1": 0.9, "task2": 0.2})
    assert summary["seen_top5_mean"] == pytest.approx(0.7) and set(per_task["random"]) == {"task0", "task1", "task2"}
    # a second seed of the first group stays a separate run
    runs.append(_write_run(tmp_path / "maa_ab_s1", {"maa": (0.0, 0.0)}, ["task0", "task1"], []))
    assert summarize(runs, tmp_path / "out2", "cmd", zoo)["generator_runs"] == 2


def test_script_records_command_and_runs(tmp_path):
    zoo = make_synthetic_zoo(tmp_path / "zoo", PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,)), n=5, m=2,
                             num_tasks=4, per_task=3)
    runs = [_write_run(tmp_path / "baselines", {"retrieval": (0.5, 0.3)}),
            _write_run(tmp_path / "maa", {"maa": (1.0, 1.0)})]
    proc = subprocess.run([sys.executable, str(ROOT / "training" / "summarize_eval.py"), *map(str, runs),
                           "--zoo", str(zoo), "--out", str(tmp_path / "out"), "--command", "make it"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert printed == json.loads((tmp_path / "out" / "summary.json").read_text())
    assert printed["command"] == "make it" and printed["runs"] == [str(r) for r in runs]  # outside the repo: absolute
    assert printed["unseen_top5_mean"] == pytest.approx(0.95)
