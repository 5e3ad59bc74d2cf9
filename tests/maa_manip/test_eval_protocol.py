"""Prompt selection by training stage and episode success, balanced BC rows, saved per-task policies."""
from __future__ import annotations

import numpy as np
import pytest

from maa_core.layout import PolicyLayout
from maa_generator.data.zoo import Zoo, ZooWriter, prompt_spec
from maa_manip.eval_protocol import (
    balanced_rows,
    load_task_policies,
    prompt_candidates,
    save_task_policies,
    select_prompts,
)

LAYOUT = PolicyLayout(obs_dim=5, action_dim=3, hidden=(8,), name="toy")
SPEC = prompt_spec("success", obs_dim=5, act_dim=3, n=4, m=2)


def _zoo(root, with_iteration: bool = True) -> Zoo:
    """One task, 6 checkpoints at iterations 0-5; the stored episode 0 succeeds at rows 1, 4 and 5 only."""
    rng = np.random.default_rng(0)
    writer = ZooWriter(root, "toy", LAYOUT, SPEC)
    success = np.zeros((6, 2, 7), bool)
    success[[1, 4, 5], 0, 3] = True
    success[2, 1, 3] = True  # episode 1 succeeds, but prompts are episode 0
    traj = {"traj_obs": rng.normal(size=(6, 2, 7, 5)).astype(np.float32),
            "traj_act": np.zeros((6, 2, 7, 3), np.float32), "traj_success": success}
    meta = {"seed": 0, "step": list(range(6)), "success": [0.0, 0.5, 0.5, 0.5, 1.0, 1.0], "collector": "test"}
    if with_iteration:
        meta["iteration"] = list(range(6))
    writer.add_shard("reach", "s0", rng.normal(size=(6, LAYOUT.num_params)).astype(np.float32),
                     rng.normal(size=(6, SPEC["h_dim"])).astype(np.float32),
                     rng.normal(size=(6, SPEC["v_dim"])).astype(np.float32), meta, trajectories=traj)
    return Zoo.open(root)


def test_prompt_candidates_filter_by_stage_and_episode_success(tmp_path):
    zoo = _zoo(tmp_path / "zoo")
    assert prompt_candidates(zoo, "reach") == [0, 1, 2, 3, 4, 5]
    assert prompt_candidates(zoo, "reach", max_iteration=3) == [0, 1, 2, 3]
    assert prompt_candidates(zoo, "reach", needs_success=True) == [1, 4, 5]
    assert prompt_candidates(zoo, "reach", max_iteration=4, needs_success=True) == [1, 4]
    assert prompt_candidates(zoo, "reach", min_success=1.0, max_iteration=4, needs_success=True) == [4]
    rows = select_prompts(zoo, "reach", 5, np.random.default_rng(1), max_iteration=4, needs_success=True)
    assert len(rows) == 5 and set(rows) <= {1, 4}  # too few candidates: drawn with replacement


def test_prompt_selection_errors_say_what_is_missing(tmp_path):
    zoo = _zoo(tmp_path / "zoo")
    with pytest.raises(SystemExit, match="iteration <= 0, episode success required: True"):
        select_prompts(zoo, "reach", 2, np.random.default_rng(0), max_iteration=0, needs_success=True)
    plain = _zoo(tmp_path / "plain", with_iteration=False)
    with pytest.raises(SystemExit, match="needs the checkpoints' 'iteration' metadata"):
        prompt_candidates(plain, "reach", max_iteration=3)


def test_balanced_rows_take_every_task():
    meta = [{"task": "a", "success": 1.0}] * 10 + [{"task": "b", "success": 1.0}] * 10 + \
           [{"task": "c", "success": 0.0}] * 5 + [{"task": "c", "success": 0.9}] * 3
    rows = balanced_rows(meta, ["a", "b", "c"], 12)
    tasks = [meta[i]["task"] for i in rows]
    assert tasks.count("a") == 4 and tasks.count("b") == 4 and tasks.count("c") == 3  # c has only 3 good ones
    assert all(meta[i]["success"] >= 0.5 for i in rows) and rows == sorted(set(rows))


def test_saved_policies_round_trip(tmp_path):
    params = {"maa": np.ones((3, 4), np.float32), "retrieval": np.zeros((3, 4), np.float32)}
    success = {"maa": np.array([[1, 0], [0, 0], [1, 1]], bool), "retrieval": np.zeros((3, 2), bool)}
    path = save_task_policies(tmp_path / "p" / "reach.npz", [4, 1, 2], params, success)
    rows, methods = load_task_policies(path)
    assert rows.tolist() == [4, 1, 2] and sorted(methods) == ["maa", "retrieval"]
    np.testing.assert_array_equal(methods["maa"][0], params["maa"])
    np.testing.assert_array_equal(methods["maa"][1], success["maa"])
    assert not list((tmp_path / "p").glob("*.tmp"))
    with pytest.raises(FileNotFoundError, match="save_policies: true"):
        load_task_policies(tmp_path / "p" / "missing.npz")


def test_task_rngs_do_not_depend_on_other_tasks():
    from maa_manip.eval_protocol import task_rngs

    a_sel, a_noise = task_rngs(0, "reach")
    _ = task_rngs(0, "push")[0].random(5)  # drawing for another task changes nothing for this one
    b_sel, b_noise = task_rngs(0, "reach")
    assert a_sel.random() == b_sel.random() and a_noise.random() == b_noise.random()
    assert task_rngs(0, "reach")[0].random() != task_rngs(0, "push")[0].random()
    assert task_rngs(0, "reach")[0].random() != task_rngs(1, "reach")[0].random()


def test_task_cache_is_tied_to_the_run_configuration(tmp_path):
    from maa_manip.eval_protocol import TaskCache

    fp = TaskCache.fingerprint_of({"seed": 0, "out": "a", "num_prompts": 5}, "abc", False)
    assert fp == TaskCache.fingerprint_of({"seed": 0, "out": "elsewhere", "num_prompts": 5, "splits": ["seen"]}, "abc",
                                          False)  # which splits run does not change a task
    assert fp != TaskCache.fingerprint_of({"seed": 0, "out": "a", "num_prompts": 6}, "abc", False)
    assert fp != TaskCache.fingerprint_of({"seed": 0, "out": "a", "num_prompts": 5}, "other weights", False)
    meta = {"sha256": "abc", "config": {"diffusion": {"guidance_scale": 1.0}}}
    other_sampling = {"sha256": "abc", "config": {"diffusion": {"guidance_scale": 0.5}}}  # same weights
    assert TaskCache.generator_identity(meta) != TaskCache.generator_identity(other_sampling)
    assert TaskCache.generator_identity(None) is None
    cache = TaskCache(tmp_path / "tasks", fp)
    assert cache.load("reach") is None
    cache.save("reach", {"split": "seen", "results": {"maa": {"top5": 1.0}}})
    assert cache.load("reach")["results"] == {"maa": {"top5": 1.0}}
    assert TaskCache(tmp_path / "tasks", "another run").load("reach") is None
    (tmp_path / "tasks" / "reach.json").write_text('{"split": "se')  # truncated by a crash: computed again
    assert cache.load("reach") is None
