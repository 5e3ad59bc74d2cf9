"""Go2 PPO checkpoints: atomic saves, pickle-free loads, resume past a truncated newest checkpoint."""
import os
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from maa_core.config import from_dict
from maa_go2.run_dir import checkpoint_files
from maa_go2.train import train
from maa_go2.train_config import Go2TrainConfig

TINY = {"iterations": 2, "save_interval": 1, "env": {"num_envs": 4, "history_len": 3},
        "ppo": {"steps_per_env": 4, "epochs": 1, "minibatches": 2}}


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A finished 2-iteration run with checkpoints 1 and 2."""
    d = tmp_path_factory.mktemp("go2ckpt") / "run"
    train(from_dict(Go2TrainConfig, {**TINY, "run_dir": str(d)}), progress=False)
    return d


@pytest.fixture
def run_copy(base_run, tmp_path):
    d = tmp_path / "run"
    shutil.copytree(base_run, d)
    return d, from_dict(Go2TrainConfig, {**TINY, "run_dir": str(d)})


def test_checkpoints_load_weights_only(base_run):
    files = checkpoint_files(base_run / "checkpoints")
    assert [p.name for p in files] == ["ckpt_00002.pt", "ckpt_00001.pt"]
    state = torch.load(files[0], weights_only=True)
    assert state["iteration"] == 2 and isinstance(state["wall_clock_s"], float)
    assert state["config"]["env"]["num_envs"] == 4
    assert not [p for p in (base_run / "checkpoints").iterdir() if p.name.startswith(".")]  # no temp files


def test_resume_never_unpickles(run_copy, monkeypatch):
    d, cfg = run_copy
    calls, real_load = [], torch.load

    def spy(*a, **k):
        calls.append(k.get("weights_only"))
        return real_load(*a, **k)

    monkeypatch.setattr(torch, "load", spy)
    cfg.iterations = 3
    assert train(cfg, progress=False)["iterations"] == 3  # resumed at 2
    assert calls and all(w is True for w in calls)


def test_failed_save_leaves_previous_checkpoint_intact(run_copy, monkeypatch):
    d, cfg = run_copy
    good = (d / "checkpoints" / "ckpt_00002.pt").read_bytes()
    real_save = torch.save

    def dying_save(obj, f, *a, **k):  # half a file, then the disk fills up
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04" + b"\0" * 64)
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", dying_save)
    cfg.iterations = 3
    with pytest.raises(OSError, match="No space"):
        train(cfg, progress=False)
    monkeypatch.setattr(torch, "save", real_save)
    ckpts = d / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["ckpt_00001.pt", "ckpt_00002.pt"]  # no half ckpt_00003
    assert (ckpts / "ckpt_00002.pt").read_bytes() == good
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert train(cfg, progress=False)["iterations"] == 3
    assert not [w for w in record if issubclass(w.category, RuntimeWarning)]  # nothing was skipped


def test_resume_skips_truncated_newest_checkpoint(run_copy):
    d, cfg = run_copy
    newest = d / "checkpoints" / "ckpt_00002.pt"
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 3])  # e.g. a kill during a save of an older maa version
    with pytest.warns(RuntimeWarning, match=r"ckpt_00002\.pt is unreadable \(truncated or corrupt"):
        summary = train(cfg, progress=False)
    assert summary["iterations"] == 2  # resumed from iteration 1 and redid iteration 2
    assert torch.load(newest, weights_only=True)["iteration"] == 2  # replaced by a good one


def test_no_loadable_checkpoint_is_a_clear_error(run_copy):
    d, cfg = run_copy
    for p in checkpoint_files(d / "checkpoints"):
        p.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match=r"no usable Go2 PPO checkpoint.*2 found"):
        train(cfg, progress=False)


def test_old_pickled_checkpoint_is_refused(run_copy):
    import numpy as np

    d, cfg = run_copy
    for p in checkpoint_files(d / "checkpoints"):
        state = torch.load(p, weights_only=True)
        torch.save({**state, "wall_clock_s": np.float64(1.0)}, p)  # a numpy scalar needs unpickling
    assert os.path.getsize(d / "checkpoints" / "ckpt_00001.pt") > 0
    with pytest.warns(RuntimeWarning, match="older maa version"), pytest.raises(ValueError, match="no usable"):
        train(cfg, progress=False)


def test_fine_tuning_starts_from_another_runs_weights_and_prunes_checkpoints(base_run, tmp_path):
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.ppo_loop import build_learner, restore

    source = base_run / "checkpoints" / "ckpt_00002.pt"
    cfg = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path / "ft"), "init_from": str(source),
                                     "iterations": 3, "keep_checkpoints": 2})
    env = MujocoGo2Env(cfg.env, seed=0)
    ac, ppo = build_learner(cfg, "cpu")
    (tmp_path / "ft" / "checkpoints").mkdir(parents=True)
    assert restore(tmp_path / "ft", ac, ppo, env.sampler, True, cfg.init_from) == (0, 0.0)  # a fresh run ...
    src = torch.load(source, weights_only=True)
    for k, v in ac.state_dict().items():  # ... that starts from the source's actor-critic
        assert torch.equal(v, src["model"][k]), k
    # ... and from its optimizer: the settled adaptive lr and Adam moments, not a fresh Adam at ppo.lr
    assert ppo.lr == src["ppo"]["lr"]
    moments = ppo.opt.state_dict()["state"]
    assert moments and all(torch.equal(moments[i]["exp_avg_sq"], src["ppo"]["opt"]["state"][i]["exp_avg_sq"])
                           for i in moments)
    summary = train(cfg, progress=False)
    assert summary["iterations"] == 3
    files = checkpoint_files(tmp_path / "ft" / "checkpoints")
    assert [p.name for p in files] == ["ckpt_00003.pt", "ckpt_00002.pt"]  # the newest two kept
    assert len(list((tmp_path / "ft" / "actors").glob("actor_*.safetensors"))) == 3  # every actor kept
    # once the run has checkpoints of its own it resumes from them, not from init_from
    cfg.iterations = 4
    assert train(cfg, progress=False)["iterations"] == 4


def test_fine_tuning_can_continue_the_source_curriculum(tmp_path):
    """init_curriculum: the fine-tuning run starts with the source's opened gaits, their contact-match averages and
    its env-step count (the gait-frequency stage); without it the curricula start from the config."""
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.ppo_loop import build_learner, restore

    cur = {"gaits_initial": 1, "initial_gait_frequency": [2.5, 3.5], "full_gait_frequency_after_env_steps": 10 ** 6}
    env_cfg = {**TINY["env"], "curriculum": cur, "commands": {"gaits": ["trot", "pronk", "pace", "bound"]}}
    src_cfg = from_dict(Go2TrainConfig, {**TINY, "env": env_cfg, "run_dir": str(tmp_path / "src")})
    train(src_cfg, progress=False)
    source = tmp_path / "src" / "checkpoints" / "ckpt_00002.pt"
    saved = torch.load(source, weights_only=True)["curriculum"]
    saved["gaits_open"] = torch.tensor(3)  # as if the source had opened three gaits
    saved["gait_match"] = torch.tensor([0.81, 0.77, 0.4, 0.0], dtype=torch.float64)
    saved["gait_opened_at"] = torch.tensor(7)  # when the source opened its last gait
    state = torch.load(source, weights_only=True)
    torch.save({**state, "curriculum": saved}, source)

    def fresh(init_curriculum):
        cfg = from_dict(Go2TrainConfig, {**TINY, "env": env_cfg, "run_dir": str(tmp_path / f"ft{init_curriculum}"),
                                         "init_from": str(source), "init_curriculum": init_curriculum})
        env = MujocoGo2Env(cfg.env, seed=0)
        ac, ppo = build_learner(cfg, "cpu")
        assert restore(Path(cfg.run_dir), ac, ppo, env.sampler, True, cfg.init_from, cfg.init_curriculum) == (0, 0.0)
        return env.sampler

    cont = fresh(True)
    assert cont.gaits_open() == 3 and cont.gaits.match.tolist() == [0.81, 0.77, 0.4, 0.0]
    assert cont.env_steps == int(saved["env_steps"]) > 0
    assert cont.gaits.opened_at == cont.env_steps  # gait_open_after_env_steps counts from this run's start
    start = fresh(False)
    assert start.gaits_open() == 1 and start.env_steps == 0
    # a source trained without any curriculum has nothing to continue: said, not silently ignored
    plain = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path / "plain")})
    train(plain, progress=False)
    cfg = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path / "ft_plain"), "init_curriculum": True,
                                     "init_from": str(tmp_path / "plain" / "checkpoints" / "ckpt_00002.pt")})
    env = MujocoGo2Env(cfg.env, seed=0)
    ac, ppo = build_learner(cfg, "cpu")
    with pytest.raises(ValueError, match="holds no curriculum state"):
        restore(Path(cfg.run_dir), ac, ppo, env.sampler, True, cfg.init_from, cfg.init_curriculum)


def test_fine_tuning_source_errors_are_clear(tmp_path, base_run):
    from maa_go2.ppo_loop import build_learner
    from maa_go2.run_dir import load_initial_weights

    cfg = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path / "x")})
    ac, _ = build_learner(cfg, "cpu")
    with pytest.raises(ValueError, match="no checkpoint at"):
        load_initial_weights(tmp_path / "missing.pt", ac)
    other = from_dict(Go2TrainConfig, {**TINY, "env": {"num_envs": 4, "history_len": 5}})
    ac5, _ = build_learner(other, "cpu")
    with pytest.raises(ValueError, match="does not fit this model"):
        load_initial_weights(base_run / "checkpoints" / "ckpt_00002.pt", ac5)
    with pytest.raises(ValueError, match="keep_checkpoints"):
        from_dict(Go2TrainConfig, {"keep_checkpoints": -1})
    with pytest.raises(ValueError, match="init_curriculum: true needs train.init_from"):
        from_dict(Go2TrainConfig, {"init_curriculum": True})


def _fake_run(path, rows, init_from=""):
    import json as _json
    path.mkdir(parents=True)
    (path / "curve.jsonl").write_text("".join(_json.dumps(r) + "\n" for r in rows))
    (path / "config.yaml").write_text(f"train:\n  init_from: '{init_from}'\n")


def test_lineage_curve_puts_the_source_stages_in_front(tmp_path):
    from maa_go2.run_dir import lineage_curve

    row = lambda it, t: {"iteration": it, "env_steps": 100 * it, "wall_clock_s": t}  # noqa: E731
    _fake_run(tmp_path / "a", [row(1, 1.0), row(2, 2.0), row(3, 3.0)])
    _fake_run(tmp_path / "b", [row(1, 5.0), row(2, 10.0)], init_from=str(tmp_path / "a/checkpoints/ckpt_00002.pt"))
    _fake_run(tmp_path / "c", [row(1, 0.5)], init_from=str(tmp_path / "b/checkpoints/ckpt_00001.pt"))
    rows = lineage_curve(tmp_path / "c")
    # a up to its iteration 2, then b up to 1, then c: each stage continues the previous one's counters
    assert [(r["stage"][-1], r["stage_iteration"], r["iteration"]) for r in rows] == \
        [("a", 1, 1), ("a", 2, 2), ("b", 1, 3), ("c", 1, 4)]
    assert [r["env_steps"] for r in rows] == [100, 200, 300, 400]
    assert [r["wall_clock_s"] for r in rows] == [1.0, 2.0, 7.0, 7.5]
    # a source that is gone ends the chain; a run without init_from is its own curve
    _fake_run(tmp_path / "d", [row(1, 1.0)], init_from=str(tmp_path / "gone/checkpoints/ckpt_00005.pt"))
    assert [r["iteration"] for r in lineage_curve(tmp_path / "d")] == [1]
    assert len(lineage_curve(tmp_path / "a")) == 3


def test_a_run_directory_as_init_from_is_pinned_to_its_newest_checkpoint_once(base_run, tmp_path):
    """init_from naming a run folder starts from its newest checkpoint, recorded in config.yaml; when the source trains
    on, the fine-tuning run resumes with the checkpoint it started from, so its lineage (and cost) stays put."""
    import yaml

    from maa_go2.run_dir import lineage_curve

    source = tmp_path / "source"
    shutil.copytree(base_run, source)
    cfg = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path / "ft"), "init_from": str(source),
                                     "iterations": 1})
    train(cfg, progress=False)
    pinned = str(source / "checkpoints" / "ckpt_00002.pt")
    saved = lambda: yaml.safe_load((tmp_path / "ft" / "config.yaml").read_text())["train"]["init_from"]  # noqa: E731
    assert saved() == pinned
    train(from_dict(Go2TrainConfig, {**TINY, "run_dir": str(source), "iterations": 3}), progress=False)
    cfg.iterations = 2
    assert train(cfg, progress=False)["iterations"] == 2
    assert saved() == pinned  # not the source's new ckpt_00003
    rows = lineage_curve(tmp_path / "ft")
    assert [(Path(r["stage"]).name, r["stage_iteration"]) for r in rows] == \
        [("source", 1), ("source", 2), ("ft", 1), ("ft", 2)]
    with pytest.raises(ValueError, match="train that run first"):
        train(from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path / "x"), "init_from": str(tmp_path)}),
              progress=False)
