"""Policy zoo format: round trip, memory mapping, atomic shards, validation errors."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from maa_core.layout import PolicyLayout
from maa_generator.data import zoo as zoo_mod
from maa_generator.data.zoo import Zoo, ZooError, ZooWriter, prompt_spec, validate

LAYOUT = PolicyLayout(obs_dim=3, action_dim=2, hidden=(4,))
SPEC = prompt_spec("success", obs_dim=3, act_dim=2, n=4, m=2)


def _shard_data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    params = rng.normal(size=(n, LAYOUT.num_params)).astype(np.float32)
    h = rng.normal(size=(n, SPEC["h_dim"])).astype(np.float32)
    v = rng.normal(size=(n, SPEC["v_dim"])).astype(np.float32)
    meta = {"seed": seed, "step": list(range(n)), "success": np.linspace(0, 1, n), "collector": "sac"}
    return params, h, v, meta


def _make(root, with_traj=False):
    w = ZooWriter(root, "metaworld", LAYOUT, SPEC, config={"collector": {"steps": 10}})
    a = _shard_data(5, 0)
    traj = None
    if with_traj:
        traj = {"traj_obs": np.zeros((5, 2, 7, 3)), "traj_act": np.ones((5, 2, 7, 2)),
                "traj_success": np.zeros((5, 2, 7), bool)}
    w.add_shard("door-open", "seed0", *a, trajectories=traj)
    b = _shard_data(3, 1)
    w.add_shard("drawer-close", "seed1", *b)
    return w, a, b


def test_round_trip_and_memory_mapping(tmp_path):
    w, a, b = _make(tmp_path / "zoo")
    assert w.has_shard("door-open", "seed0") and not w.has_shard("door-open", "seed9")
    assert validate(tmp_path / "zoo") == []
    z = Zoo.open(tmp_path / "zoo")
    assert z.layout == LAYOUT and z.domain == "metaworld" and z.num_checkpoints == 8
    assert z.tasks == ["door-open", "drawer-close"]
    view = z.params()
    assert view.shape == (8, LAYOUT.num_params)
    assert all(isinstance(p, np.memmap) for p in view.parts)
    np.testing.assert_array_equal(np.asarray(view), np.concatenate([a[0], b[0]]))
    np.testing.assert_array_equal(view[[6, 1]], np.stack([b[0][1], a[0][1]]))
    np.testing.assert_array_equal(z.params("drawer-close")[:], b[0])
    h, v = z.prompts()
    np.testing.assert_array_equal(h[:5], a[1])
    np.testing.assert_array_equal(v[5:], b[2])
    meta = z.metadata
    assert meta[0]["task"] == "door-open" and meta[0]["collector"] == "sac" and meta[7]["step"] == 2
    good = z.filter(min_success=0.5)
    assert good.num_checkpoints == sum(m["success"] >= 0.5 for m in meta)
    only = z.filter(tasks=["door-open"], min_success=0.5)
    assert only.tasks == ["door-open"] and all(m["success"] >= 0.5 for m in only.metadata)
    with pytest.raises(ZooError, match="unknown task"):
        z.filter(tasks=["pick-place"])
    with pytest.raises(ZooError, match="traj_obs"):
        z.trajectories()
    assert json.loads((tmp_path / "zoo" / "zoo.json").read_text())["config"] == {"collector": {"steps": 10}}


def test_trajectories_stored(tmp_path):
    _make(tmp_path / "zoo", with_traj=True)
    z = Zoo.open(tmp_path / "zoo").filter(tasks=["door-open"])
    t = z.trajectories()
    assert t["traj_obs"].shape == (5, 2, 7, 3) and t["traj_success"].dtype == bool


def test_add_shard_rejects_bad_inputs(tmp_path):
    w = ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC)
    params, h, v, meta = _shard_data(3, 0)
    bad = params.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        w.add_shard("t", "r", bad, h, v, meta)
    with pytest.raises(ValueError, match=rf"\[K, {LAYOUT.num_params}\]"):
        w.add_shard("t", "r", params[:, :-1], h, v, meta)
    with pytest.raises(ZooError, match="h: expected shape"):
        w.add_shard("t", "r", params, h[:, :-1], v, meta)
    with pytest.raises(ZooError, match="missing required key"):
        w.add_shard("t", "r", params, h, v, {"seed": 0, "step": 1})
    with pytest.raises(ZooError, match="must not contain"):
        w.add_shard("a__b", "r", params, h, v, meta)
    with pytest.raises(ZooError, match="existing zoo has layout"):
        ZooWriter(tmp_path / "zoo", "metaworld", PolicyLayout(obs_dim=3, action_dim=2, hidden=(5,)), SPEC)


def test_interrupted_shard_write_leaves_no_shard(tmp_path, monkeypatch):
    w = ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC)
    real_save, calls = np.save, []

    def dying_save(path, arr):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed mid-shard")
        real_save(path, arr)

    monkeypatch.setattr(zoo_mod.np, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        w.add_shard("door-open", "seed0", *_shard_data(4, 0))
    monkeypatch.setattr(zoo_mod.np, "save", real_save)
    assert not (tmp_path / "zoo" / "shards" / "door-open__seed0").exists()
    assert validate(tmp_path / "zoo") == [] and Zoo.open(tmp_path / "zoo").num_checkpoints == 0
    w2 = ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC)  # resume: cleans the temp dir
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "zoo" / "shards").iterdir())
    assert not w2.has_shard("door-open", "seed0")
    w2.add_shard("door-open", "seed0", *_shard_data(4, 0))
    assert Zoo.open(tmp_path / "zoo").num_checkpoints == 4


def test_crash_between_rename_and_index_is_recovered(tmp_path):
    _make(tmp_path / "zoo")
    index_path = tmp_path / "zoo" / "zoo.json"
    index = json.loads(index_path.read_text())
    index["shards"] = index["shards"][:1]  # as if killed before zoo.json was updated
    index_path.write_text(json.dumps(index))
    w = ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC)
    assert w.has_shard("drawer-close", "seed1")
    assert Zoo.open(tmp_path / "zoo").num_checkpoints == 8


def test_a_shard_listed_twice_is_refused_and_repaired(tmp_path):
    """A shard collected again after its directory was moved aside is listed once; an index that lists one twice
    fails validation (it would load the checkpoints twice) until a writer repairs it."""
    root = tmp_path / "zoo"
    _, a, _ = _make(root)
    (root / "shards" / "door-open__seed0").rename(tmp_path / "moved")
    w = ZooWriter(root, "metaworld", LAYOUT, SPEC)
    w.add_shard("door-open", "seed0", *a)
    assert [s["name"] for s in json.loads((root / "zoo.json").read_text())["shards"]].count("door-open__seed0") == 1
    assert Zoo.open(root).num_checkpoints == 8
    _edit_index(root, lambda d: d["shards"].append(dict(d["shards"][0])))
    with pytest.raises(ZooError, match="listed more than once"):
        Zoo.open(root)
    ZooWriter(root, "metaworld", LAYOUT, SPEC)
    assert Zoo.open(root).num_checkpoints == 8


def _edit_index(root, fn):
    p = root / "zoo.json"
    d = json.loads(p.read_text())
    fn(d)
    p.write_text(json.dumps(d))


@pytest.mark.parametrize("case, expected", [
    ("missing_key", "missing key(s) ['layout']"),
    ("version", "unknown format_version 99"),
    ("dtype", "dtype float64, expected float32"),
    ("shape", "shape [5, 35], expected [5, 36] (layout policy has 36 params)"),
    ("nan", "1 non-finite values"),
    ("truncated", "truncated .npy"),
    ("missing_shard", "listed in zoo.json but missing on disk"),
    ("missing_file", "v.npy: missing file"),
    ("meta_len", "'step' has 2 values, expected 5"),
])
def test_validate_reports_each_problem(tmp_path, case, expected):
    root = tmp_path / "zoo"
    _make(root)
    shard = root / "shards" / "door-open__seed0"
    if case == "missing_key":
        _edit_index(root, lambda d: d.pop("layout"))
    elif case == "version":
        _edit_index(root, lambda d: d.update(format_version=99))
    elif case == "dtype":
        np.save(shard / "params.npy", np.zeros((5, LAYOUT.num_params), np.float64))
    elif case == "shape":
        np.save(shard / "params.npy", np.zeros((5, LAYOUT.num_params - 1), np.float32))
    elif case == "nan":
        arr = np.load(shard / "h.npy")
        arr[2, 3] = np.nan
        np.save(shard / "h.npy", arr)
    elif case == "truncated":
        data = (shard / "params.npy").read_bytes()
        (shard / "params.npy").write_bytes(data[: len(data) // 2])
    elif case == "missing_shard":
        import shutil

        shutil.rmtree(root / "shards" / "drawer-close__seed1")
    elif case == "missing_file":
        (shard / "v.npy").unlink()
    elif case == "meta_len":
        sj = shard / "shard.json"
        d = json.loads(sj.read_text())
        d["meta"]["step"] = [1, 2]
        sj.write_text(json.dumps(d))
    problems = validate(root)
    assert any(expected in p for p in problems), problems
    with pytest.raises(ZooError, match="invalid zoo"):
        Zoo.open(root)


def test_validate_not_a_zoo(tmp_path):
    assert "missing (not a zoo directory)" in validate(tmp_path)[0]


def test_zoo_shard_files_fsynced_before_rename(tmp_path, fsynced, monkeypatch):
    from maa_core.layout import PolicyLayout
    from maa_generator.data.zoo import Zoo, ZooWriter, prompt_spec

    layout = PolicyLayout(obs_dim=3, action_dim=2, hidden=(4,))
    w = ZooWriter(tmp_path / "zoo", "metaworld", layout, prompt_spec("success", 3, 2, 2, 1))
    at_rename = []
    real_rename = os.rename
    monkeypatch.setattr(os, "rename", lambda a, b: (at_rename.append(list(fsynced)), real_rename(a, b)))
    rng = np.random.default_rng(0)
    w.add_shard("reach", "s0", rng.normal(size=(2, layout.num_params)), rng.normal(size=(2, 10)),
                rng.normal(size=(2, 3)), {"seed": 0, "step": 1, "collector": "t", "success": 1.0})
    synced = {os.path.basename(p) for p in at_rename[0]}
    assert {"params.npy", "h.npy", "v.npy", "shard.json"} <= synced
    assert any(os.path.basename(p).startswith(".tmp-reach__s0") for p in at_rename[0])  # the directory too
    assert str(tmp_path / "zoo" / "shards") in fsynced[len(at_rename[0]):]  # parent after the rename
    assert Zoo.open(tmp_path / "zoo").num_checkpoints == 2


def test_a_later_collection_with_another_config_is_recorded(tmp_path):
    first = {"collector": "dagger", "iterations": 50}
    ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC, config=first)
    ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC, config=first)  # a resume: nothing new
    ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC)  # no config given: nothing recorded
    later = {"collector": "dagger", "iterations": 25}
    ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC, config=later)
    ZooWriter(tmp_path / "zoo", "metaworld", LAYOUT, SPEC, config=later)
    index = json.loads((tmp_path / "zoo" / "zoo.json").read_text())
    assert index["config"] == first and index["other_configs"] == [later]
    assert Zoo.open(tmp_path / "zoo").config == first and validate(tmp_path / "zoo") == []
