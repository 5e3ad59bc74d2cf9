"""Scripts take ``--config PATH`` plus ``--set KEY=VALUE`` overrides (maa_core.config) and report config errors
with the file and the key, not a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _script(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_train_applies_overrides_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    res = _script("training/train.py", "--config", "config/tiny.yaml", "--synthetic", "--out", str(out),
                  "--stage", "autoencoder", "--set", "train.autoencoder.steps=2", "--set", "train.seed=7",
                  "--set", "data.synthetic_per_task=4", "--set", "embedding.hidden=[16, 8]")
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["stages"]["autoencoder"]["step"] == 2
    saved = yaml.safe_load((out / "config.yaml").read_text())  # the resolved config saved with the run
    assert saved["train"]["seed"] == 7 and saved["embedding"]["hidden"] == [16, 8]
    assert saved["data"]["synthetic"] is True and saved["data"]["synthetic_per_task"] == 4


def test_evaluate_reports_a_bad_override_with_file_and_key():
    res = _script("training/evaluate.py", "--config", "config/metaworld_eval_tiny.yaml", "--set", "episodes=many")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert ("config/metaworld_eval_tiny.yaml: override 'episodes=many': episodes: expected int, got str 'many'"
            in res.stderr)


def test_go2_training_rejects_an_override_outside_its_sections_before_training():
    res = _script("training/train_go2.py", "--config", "config/go2_tiny.yaml", "--set", "evaluate.secondz=1")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "evaluate: unknown key(s) ['secondz'] for EvaluateSection" in res.stderr
