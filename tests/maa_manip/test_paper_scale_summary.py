"""training/summarize_paper_scale.py: the issue's headline keys on top of the merged evaluation runs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from maa_core.layout import PolicyLayout
from maa_generator.data.synthetic_zoo import make_synthetic_zoo
from maa_manip.paper_scale import PAPER_UNSEEN_TOP5, headline
from tests.maa_manip.test_summarize import _write_run

ROOT = Path(__file__).resolve().parents[2]


def _memorization(path: Path) -> Path:
    split = {"maa_nn_param_distance_ratio": 2.5, "frac_replica": 0.1, "frac_interpolation": 0.2, "frac_novel": 0.7,
             "frac_nearest_from_prompt_task": 0.9, "num_generated": 20,
             "success": {"generated": 0.6, "nearest": 0.7, "noise_matched": 0.1, "average2": 0.3,
                         "interpolation": 0.4}}
    path.mkdir()
    summary = {"seen": split, "unseen": {**split, "maa_nn_param_distance_ratio": 4.0,
                                          "success": {**split["success"], "noise_matched": 0.05}},
               "all": {**split, "maa_nn_param_distance_ratio": 3.0}}
    (path / "memorization.json").write_text(json.dumps({"summary": summary, "policies": []}))
    return path


def test_headline_keys_per_method(tmp_path):
    zoo = make_synthetic_zoo(tmp_path / "zoo", PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,)), n=5, m=2,
                             num_tasks=4, per_task=3)
    runs = [_write_run(tmp_path / "baselines", {"retrieval": (0.5, 0.3), "retrieval_noise": (0.4, 0.3)}),
            _write_run(tmp_path / "maa_s0", {"maa": (1.0, 0.6)}), _write_run(tmp_path / "maa_s1", {"maa": (0.6, 0.2)}),
            _write_run(tmp_path / "random", {"random": (0.9, 0.2)})]
    memo = _memorization(tmp_path / "memo")
    proc = subprocess.run([sys.executable, str(ROOT / "training" / "summarize_paper_scale.py"), *map(str, runs),
                           "--zoo", str(zoo), "--out", str(tmp_path / "out"), "--memorization", str(memo)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["seen_tasks"] == ["task0", "task1"] and summary["unseen_tasks"] == ["task2", "task3"]
    assert summary["min_checkpoints_per_seen_task"] == 3 and summary["num_prompts"] == 10
    assert set(summary) >= {"maa", "retrieval", "retrieval_noise", "random"} and "bc" not in summary
    assert summary["maa"]["unseen_top5_mean"] == pytest.approx(0.75)  # two seeds: (0.95 + 0.55) / 2
    assert summary["maa"]["unseen_top5_per_seed"] == [0.95, 0.55]
    assert summary["retrieval"]["unseen_mean_success"] == pytest.approx(0.3)
    assert summary["maa_nn_param_distance_ratio"] == 3.0
    assert summary["matched_noise_success"] == {"seen": 0.1, "unseen": 0.05, "all": 0.1}
    assert summary["paper_unseen_top5"] == PAPER_UNSEEN_TOP5 and summary["details"]["generator_runs"] == 2
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert printed == {k: v for k, v in summary.items() if k != "details"}


def test_headline_without_memorization_and_missing_file(tmp_path):
    merged = {"seen_tasks": ["a"], "unseen_tasks": ["b"], "min_checkpoints_per_seen_task": 5,
              "num_prompts_per_task": 7, "generator_runs": 0, "means": {"seen": {}, "unseen": {}}}
    out = headline(merged, None)
    assert "maa_nn_param_distance_ratio" not in out and "maa" not in out and out["num_prompts"] == 7
    zoo = make_synthetic_zoo(tmp_path / "zoo", PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,)), n=5, m=2,
                             num_tasks=4, per_task=3)
    run = _write_run(tmp_path / "maa", {"maa": (1.0, 0.6)})
    proc = subprocess.run([sys.executable, str(ROOT / "training" / "summarize_paper_scale.py"), str(run), "--zoo",
                           str(zoo), "--out", str(tmp_path / "out"), "--memorization", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "memorization.json: not found" in proc.stderr
