"""Gait teachers distilled into one actor (``maa_go2.distill``): labels, cost accounting, the run, bad configs."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from maa_go2.actor_critic import ActorCritic
from maa_go2.commands import GAITS, CommandRanges
from maa_go2.curriculum import CurriculumConfig
from maa_go2.distill import DistillConfig, Teachers, check_gaits, run_distill, teacher_cost
from maa_go2.env_config import EnvConfig
from maa_go2.observation import obs_slices
from maa_go2.ppo import PPOConfig
from maa_go2.run_dir import lineage_curve, load_initial_weights, read_curve
from maa_go2.train_config import Go2TrainConfig

HISTORY = 3


def _cfg(run_dir, gaits, iterations=2, init_from="", seed=1) -> Go2TrainConfig:
    env = EnvConfig(num_envs=4, history_len=HISTORY, episode_length_s=0.3,
                    commands=CommandRanges(gaits=list(gaits)),
                    curriculum=CurriculumConfig(enabled=True, per_gait=True))
    return Go2TrainConfig(seed=seed, iterations=iterations, save_interval=1, run_dir=str(run_dir), env=env,
                          init_from=init_from, ppo=PPOConfig(steps_per_env=4, epochs=1, minibatches=2))


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Teacher A (trot, 2 PPO iterations) and teacher B (pace, 2 iterations fine-tuned from A's first)."""
    from maa_go2.train import train

    root = tmp_path_factory.mktemp("teachers")
    train(_cfg(root / "a", ["trot"]), progress=False)
    train(_cfg(root / "b", ["pace"], init_from=str(root / "a" / "checkpoints" / "ckpt_00001.pt"), seed=2),
          progress=False)
    return {"trot": str(root / "a" / "checkpoints" / "ckpt_00002.pt"),
            "pace": str(root / "b" / "checkpoints" / "ckpt_00002.pt")}


def _obs_with_gaits(gaits: list[str]) -> torch.Tensor:
    obs = torch.randn(len(gaits), 70)
    cols = obs_slices()["commands"].start + 5
    obs[:, cols:cols + 3] = torch.tensor([GAITS[g] for g in gaits])
    return obs


def test_each_env_is_labelled_by_its_commanded_gaits_teacher(teachers):
    t = Teachers(teachers, ["trot", "pace"], HISTORY)
    assert len(t.models) == 2
    obs = _obs_with_gaits(["trot", "pace", "pace", "trot"])
    hist = torch.randn(4, HISTORY * 70)
    gait = t.gait_of(obs)
    assert gait.tolist() == [0, 1, 1, 0]
    expected = {}
    for name, path in teachers.items():
        ac = ActorCritic(HISTORY)
        load_initial_weights(path, ac)
        with torch.no_grad():
            expected[name] = ac.actor(ac.actor_input(obs, hist))
    got = t.act(obs, hist, gait)
    torch.testing.assert_close(got[[0, 3]], expected["trot"][[0, 3]])
    torch.testing.assert_close(got[[1, 2]], expected["pace"][[1, 2]])
    assert not torch.allclose(expected["trot"], expected["pace"])  # the teachers differ, so the routing is tested
    with pytest.raises(ValueError, match="none of the teachers"):
        t.act(_obs_with_gaits(["bound"]), hist[:1], t.gait_of(_obs_with_gaits(["bound"])))


def test_teacher_cost_counts_the_shared_stages_once(teachers):
    from pathlib import Path

    b_run = Path(teachers["pace"]).parent.parent
    own = [r for r in lineage_curve(b_run) if r["stage"] == str(b_run)]
    wall, steps = teacher_cost(teachers, teachers["trot"])  # B shares A's first iteration with the student
    assert wall == pytest.approx(own[-1]["wall_clock_s"] - lineage_curve(b_run)[0]["wall_clock_s"], abs=0.02)
    assert steps == 2 * 4 * 4  # B's own 2 iterations x 4 envs x 4 steps
    assert teacher_cost({"trot": teachers["trot"]}, teachers["trot"]) == (0.0, 0)


def test_distillation_runs_fits_the_teachers_labels_and_resumes(tmp_path, teachers):
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.train import MujocoTask

    cfg = _cfg(tmp_path / "student", ["trot", "pace"], iterations=3)
    dcfg = DistillConfig(teachers=teachers, student_init=teachers["trot"], lr=3e-3, epochs=4)
    env = MujocoTask(MujocoGo2Env(cfg.env, seed=cfg.seed))
    summary = run_distill(env, cfg, dcfg, progress=False)
    run = tmp_path / "student"
    assert summary["iterations"] == 3 and summary["teacher_wall_clock_s"] > 0
    rows = read_curve(run)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert all(r["distill_mse_after"] < r["distill_mse"] for r in rows)  # each update fits its rollout's labels
    assert rows[0]["wall_clock_s"] >= summary["teacher_wall_clock_s"]  # the teachers' own training is in the cost
    full = lineage_curve(run)  # the student's lineage (teacher A) comes first
    assert full[-1]["wall_clock_s"] > rows[-1]["wall_clock_s"] and full[0]["stage"] != str(run)
    more = dataclasses.replace(cfg, iterations=4)
    assert run_distill(MujocoTask(MujocoGo2Env(cfg.env, seed=cfg.seed)), more, dcfg, progress=False)["iterations"] == 4
    assert [r["iteration"] for r in read_curve(run)] == [1, 2, 3, 4]


def test_teacher_run_folders_are_pinned_when_the_student_starts(tmp_path, teachers):
    """Teachers named by run folder: their newest checkpoints are recorded when the distillation starts and kept on
    resume, so a teacher that trains on changes neither the labels nor the cost."""
    import shutil

    import yaml

    from maa_go2.distill import PINNED_FILE
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.train import MujocoTask, train

    runs = {g: tmp_path / g for g in teachers}
    for g, ckpt in teachers.items():
        shutil.copytree(Path(ckpt).parent.parent, runs[g])
    cfg = _cfg(tmp_path / "student", ["trot", "pace"], iterations=1)
    dcfg = DistillConfig(teachers={g: str(r) for g, r in runs.items()}, student_init=str(runs["trot"]))
    first = run_distill(MujocoTask(MujocoGo2Env(cfg.env, seed=cfg.seed)), cfg, dcfg, progress=False)
    pinned = yaml.safe_load((tmp_path / "student" / PINNED_FILE).read_text())
    newest = {g: str(r / "checkpoints" / "ckpt_00002.pt") for g, r in runs.items()}
    assert pinned == {"teachers": newest, "student_init": newest["trot"]}
    source = str(Path(teachers["trot"]).parent / "ckpt_00001.pt")  # as in the fixture: its lineage stays the same
    train(_cfg(runs["pace"], ["pace"], iterations=3, init_from=source, seed=2), progress=False)  # it trains on
    again = run_distill(MujocoTask(MujocoGo2Env(cfg.env, seed=cfg.seed)), dataclasses.replace(cfg, iterations=2),
                        dcfg, progress=False)
    assert again["iterations"] == 2 and again["teachers"] == newest
    assert again["teacher_wall_clock_s"] == first["teacher_wall_clock_s"]
    assert yaml.safe_load((tmp_path / "student" / PINNED_FILE).read_text()) == pinned


@pytest.mark.parametrize("kw, match", [({"teachers": {}}, "teachers"), ({"teachers": {"gallop": "x"}}, "gallop"),
                                       ({"student_init": ""}, "student_init"), ({"lr": 0.0}, "lr")])
def test_bad_distill_configs_say_what_is_expected(kw, match):
    base = {"teachers": {"trot": "a.pt"}, "student_init": "a.pt"}
    with pytest.raises(ValueError, match=match):
        DistillConfig(**{**base, **kw})


def test_the_task_must_give_every_commanded_gait_a_teacher_and_its_own_grid(tmp_path):
    dcfg = DistillConfig(teachers={"trot": "a.pt"}, student_init="a.pt")
    with pytest.raises(ValueError, match="pace"):
        check_gaits(_cfg(tmp_path, ["trot", "pace"]), dcfg)
    cfg = _cfg(tmp_path, ["trot"])
    with pytest.raises(ValueError, match="per_gait"):
        check_gaits(dataclasses.replace(cfg, env=dataclasses.replace(cfg.env, curriculum=CurriculumConfig())), dcfg)
    two = DistillConfig(teachers={"trot": "a.pt", "pace": "b.pt"}, student_init="a.pt")
    closed = CurriculumConfig(enabled=True, per_gait=True, gaits_initial=1)
    cfg2 = _cfg(tmp_path, ["trot", "pace"])
    with pytest.raises(ValueError, match="gaits_initial"):
        check_gaits(dataclasses.replace(cfg2, env=dataclasses.replace(cfg2.env, curriculum=closed)), two)


def test_command_line_refuses_a_config_without_teachers(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "training" / "distill_go2.py"
    spec = importlib.util.spec_from_file_location("distill_go2", path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    cfg = tmp_path / "d.yaml"
    cfg.write_text("train:\n  run_dir: x\ndistill:\n  student_init: a.pt\n")
    with pytest.raises(SystemExit) as exc:
        cli.main(["--config", str(cfg)])
    assert exc.value.code == 2 and "distill.teachers" in capsys.readouterr().err


def test_a_run_directory_stands_for_its_newest_checkpoint(teachers, tmp_path):
    from maa_go2.distill import resolved
    from maa_go2.run_dir import resolve_checkpoint

    run = Path(teachers["pace"]).parent.parent
    assert resolve_checkpoint(str(run), "distill.teachers") == teachers["pace"]
    assert resolve_checkpoint(teachers["trot"], "distill.teachers") == teachers["trot"]
    dcfg = resolved(DistillConfig(teachers={"pace": str(run)}, student_init=str(run)))
    assert dcfg.teachers == {"pace": teachers["pace"]} and dcfg.student_init == teachers["pace"]
    with pytest.raises(ValueError, match="train that run first"):
        resolve_checkpoint(str(tmp_path / "missing_run"), "distill.teachers")


def test_the_distill_section_loads_the_same_on_the_isaac_boxs_python(tmp_path, monkeypatch):
    """Python 3.8 (Isaac Gym) reads a resolved ``distill:`` section without ``maa_core.config``, to the same config,
    and refuses what only the full loader can do."""
    import sys

    import yaml

    from maa_go2.distill import load_distill_config

    path = tmp_path / "d.yaml"
    section = {"teachers": {"trot": "a.pt", "pace": "b"}, "student_init": "a.pt", "lr": 1e-3, "epochs": 3}
    path.write_text(yaml.safe_dump({"train": {"run_dir": "x"}, "distill": section}))
    full = load_distill_config(path)
    assert full == DistillConfig(**section)
    monkeypatch.setattr(sys, "version_info", (3, 8, 10))
    assert load_distill_config(path) == full
    with pytest.raises(ValueError, match="needs Python >= 3.10"):
        load_distill_config(path, ["distill.lr=1"])
    path.write_text(yaml.safe_dump({"distill": {**section, "learning_rate": 1}}))
    with pytest.raises(ValueError, match="unknown key"):
        load_distill_config(path)
    path.write_text(yaml.safe_dump({"base": "go2_agility_v10.yaml", "distill": section}))
    with pytest.raises(ValueError, match="composed on base files"):
        load_distill_config(path)
    path.write_text("train: {run_dir: x}\n")
    with pytest.raises(ValueError, match="no distill: section"):
        load_distill_config(path)
