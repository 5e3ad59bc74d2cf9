"""training/memorization.py on tiny zoos: a .npy of generated policies (with trajectories) and a generator dir."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

from maa_core.layout import PolicyLayout
from maa_generator.data import weight_alignment as wa
from maa_generator.data.synthetic_zoo import make_synthetic_zoo
from maa_generator.data.zoo import ZooWriter, prompt_spec
from maa_generator.models.generator import Generator
from tests.maa_generator.models.test_generator import CFG, SMALL

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("memorization_cli", ROOT / "training" / "memorization.py")
cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cli)

LAYOUT = PolicyLayout(obs_dim=5, action_dim=3, hidden=(16, 16), name="toy")
SPEC = prompt_spec("success", obs_dim=5, act_dim=3, n=4, m=2)


def _zoo_with_trajectories(root: Path, rng) -> np.ndarray:
    """Two tasks, one run of 5 small training steps each, with recorded trajectories; returns params ``[10, P]``."""
    writer = ZooWriter(root, "toy", LAYOUT, SPEC)
    params = []
    for task in ("reach", "push"):
        x = rng.normal(0, 0.5, LAYOUT.num_params).astype(np.float32)
        rows = []
        for _ in range(5):
            x = x + rng.normal(0, 0.02, LAYOUT.num_params).astype(np.float32)
            rows.append(x.copy())
        rows = np.stack(rows)
        traj = {"traj_obs": rng.normal(size=(5, 2, 6, 5)).astype(np.float32),
                "traj_act": np.zeros((5, 2, 6, 3), np.float32), "traj_success": np.zeros((5, 2, 6), bool)}
        meta = {"seed": 0, "step": list(range(5)), "success": [1.0] * 5, "collector": "test"}
        writer.add_shard(task, "seed0", rows, rng.normal(size=(5, SPEC["h_dim"])).astype(np.float32),
                         rng.normal(size=(5, SPEC["v_dim"])).astype(np.float32), meta, trajectories=traj)
        params.append(rows)
    return np.concatenate(params)


def test_generated_file_with_recorded_states(tmp_path, capsys):
    rng = np.random.default_rng(0)
    bank = _zoo_with_trajectories(tmp_path / "zoo", rng)
    copy = wa.permute_flat(bank[7] + rng.normal(0, 0.001, LAYOUT.num_params).astype(np.float32),
                            [rng.permutation(16), rng.permutation(16)], LAYOUT)
    np.save(tmp_path / "gen.npy", np.stack([copy, rng.normal(0, 0.5, LAYOUT.num_params).astype(np.float32)]))
    assert cli.main(["--zoo", str(tmp_path / "zoo"), "--generated", str(tmp_path / "gen.npy"),
                     "--out", str(tmp_path / "out"), "--prefilter", "0", "--interp-candidates", "4"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    result = json.loads((tmp_path / "out" / "memorization.json").read_text())
    assert printed == result["summary"]
    rows = result["policies"]
    assert [r["label"] for r in rows] == ["replica", "novel"]
    assert rows[0]["nearest"] == 7 and rows[0]["nearest_task"] == "push" and rows[0]["nearest_step"] == 2
    assert rows[0]["param_dist"] < 0.1 < rows[0]["raw_dist"]
    assert rows[0]["behavior"] is not None and rows[0]["behavior"] < 0.05 < rows[1]["behavior"]
    assert result["summary"]["num_bank_sampled"] == 10
    assert (tmp_path / "out" / "memorization.png").stat().st_size > 10_000


def test_generator_directory_prompted_with_zoo_prompts(tmp_path, capsys):
    zoo = make_synthetic_zoo(tmp_path / "zoo", SMALL, n=CFG.embedding.n_steps, m=CFG.embedding.m_states,
                             num_tasks=2, per_task=4)
    torch.manual_seed(0)
    Generator.build(SMALL, CFG).save(tmp_path / "gen")
    assert cli.main(["--zoo", str(zoo), "--generator", str(tmp_path / "gen"), "--tasks", "task1",
                     "--prompts-per-task", "2", "--candidates", "2", "--out", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "memorization.json").read_text())
    assert result["summary"]["num_generated"] == 4 and len(result["policies"]) == 4
    assert {r["nearest_task"] for r in result["policies"]} == {"task1"}  # the bank is the filtered zoo
    assert all(r["behavior"] is None for r in result["policies"])  # synthetic zoos record no trajectories
    assert result["summary"]["num_bank_sampled"] == 4
