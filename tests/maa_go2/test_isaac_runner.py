"""One training algorithm for both engines: the project's PPO on the Isaac task (stand-in), same run layout, same zoo.

The runner (``maa_go2.engines.isaac_runner``) runs the loop of ``maa_go2.train`` (``maa_go2.ppo_loop.run_ppo``):
the project's actor-critic with the privileged critic input and the adaptation module on the Isaac task's device
tensors. Both engines write the same run directory (``maa_go2.run_dir``): each resumes the other's run, and the zoo
collection reads both.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from maa_core.weights_io import load_weights_file
from maa_go2.actor_critic import ActorCritic, go2_actor_layout
from maa_go2.env_config import EnvConfig
from maa_go2.ppo import PPO, PPOConfig, RolloutStorage
from maa_go2.run_dir import checkpoint_files, read_curve, resume_checkpoint
from maa_go2.train_config import Go2TrainConfig

from .isaac_standin import activate, make_task

HISTORY = 3


def tiny_config(run_dir, iterations=2, num_envs=8):
    """One config for both engines (a short episode, so time-outs and resets happen)."""
    return Go2TrainConfig(seed=1, iterations=iterations, save_interval=1, run_dir=str(run_dir),
                          env=EnvConfig(num_envs=num_envs, history_len=HISTORY, episode_length_s=0.3),
                          ppo=PPOConfig(steps_per_env=4, epochs=1, minibatches=2))


@pytest.fixture
def isaac_env():
    """``make(cfg) -> task`` on the stand-in, configured from the run config's ``env`` section."""
    with activate() as task_module:
        from maa_go2.engines import isaac_runner

        yield lambda cfg: make_task(task_module, isaac_runner.isaac_env_cfg(cfg)), isaac_runner


def test_runner_trains_with_the_privileged_critic_and_writes_the_zoo_layout(tmp_path, isaac_env):
    make, runner = isaac_env
    cfg = tiny_config(tmp_path / "run")
    env = make(cfg)
    seen = []
    step = env.step

    def spy(actions):  # what the critic and the adaptation module are trained on
        out = step(actions)
        seen.append(out[1].clone())
        return out

    env.step = spy
    summary = runner.train_isaac(env, cfg, device="cpu", log=lambda *_: None)
    assert summary["iterations"] == 2 and summary["engine"] == "isaacgym"
    assert all(p.abs()[:, :4].min() > 0 for p in seen), "the privileged buffer is filled"
    run = tmp_path / "run"
    for rel in ("checkpoints/ckpt_00001.pt", "checkpoints/ckpt_00002.pt", "actors/actor_00002.safetensors",
                "adaptation/adaptation_00002.safetensors", "summary.json", "config.yaml"):
        assert (run / rel).is_file(), rel
    rows = read_curve(run)
    assert [r["iteration"] for r in rows] == [1, 2] and rows[-1]["env_steps"] == 2 * 8 * 4

    actor = load_weights_file(run / "actors" / "actor_00002.safetensors")
    assert actor.layout == go2_actor_layout() and actor.layout.obs_dim == 77  # obs 70 + adaptation latent 7
    assert actor.extra["engine"] == "isaacgym" and actor.extra["history_len"] == HISTORY

    from maa_go2.checkpoints import load_adaptation
    from maa_go2.collect import list_actors

    assert load_adaptation(run / "adaptation" / "adaptation_00002.safetensors").history_len == HISTORY
    assert [p.name for p in list_actors(run)] == ["actor_00001.safetensors", "actor_00002.safetensors"]
    ac = ActorCritic(HISTORY)
    state = resume_checkpoint(run / "checkpoints", ac, PPO(ac, cfg.ppo))  # what the MuJoCo trainer resumes
    assert state["iteration"] == 2
    flat = ac.layout.flatten({k: v for k, v in ac.actor.state_dict().items()})
    np.testing.assert_allclose(flat, actor.flat)


def _layout(run):
    """What must not depend on the engine: key sets, tensor names and shapes, weights-file layouts, summary and
    curve columns, the configuration; and the engine label."""
    state = torch.load(checkpoint_files(run / "checkpoints")[0], weights_only=True)
    actor = load_weights_file(run / "actors" / "actor_00002.safetensors")
    adaptation = load_weights_file(run / "adaptation" / "adaptation_00002.safetensors")
    summary = json.loads((run / "summary.json").read_text())
    layout = {"checkpoint": sorted(state), "model": {k: tuple(v.shape) for k, v in state["model"].items()},
              "ppo": sorted(state["ppo"]), "opt": [len(state["ppo"][k]["state"]) for k in ("opt", "adapt_opt")],
              "curriculum": {k: tuple(v.shape) for k, v in state["curriculum"].items()},
              "config": {**state["config"], "run_dir": None}, "actor": (actor.layout, sorted(actor.extra)),
              "adaptation": (adaptation.layout, adaptation.extra), "summary": sorted(summary),
              "metrics": sorted(summary["metrics"]), "curve": [sorted(r) for r in read_curve(run)],
              "config.yaml": sorted(yaml.safe_load((run / "config.yaml").read_text())["train"])}
    return layout, state["engine"]


@pytest.mark.parametrize("per_gait", [False, True], ids=["shared_grid", "per_gait_gated_grids"])
def test_both_engines_write_one_layout_and_resume_each_other(tmp_path, isaac_env, per_gait):
    from maa_go2.train import train

    make, runner = isaac_env
    cfg_m, cfg_i = tiny_config(tmp_path / "mujoco", num_envs=4), tiny_config(tmp_path / "isaac", num_envs=4)
    for cfg in (cfg_m, cfg_i):
        cfg.env.curriculum.enabled = True
        if per_gait:  # the tenth agility run's curriculum: a grid per gait, gated on contact match except trot's
            cfg.env.commands.gaits = ["trot", "pace"]
            cfg.env.curriculum.per_gait, cfg.env.curriculum.min_contact_match = True, 0.7
            cfg.env.curriculum.ungated_gaits = ["trot"]
    assert train(cfg_m, progress=False)["engine"] == "mujoco"
    assert runner.train_isaac(make(cfg_i), cfg_i, device="cpu", log=lambda *_: None)["engine"] == "isaacgym"
    (mujoco, engine_m), (isaac, engine_i) = _layout(tmp_path / "mujoco"), _layout(tmp_path / "isaac")
    assert (engine_m, engine_i) == ("mujoco", "isaacgym")
    assert mujoco == isaac
    assert mujoco["curriculum"] and mujoco["actor"][0] == go2_actor_layout()
    grids = mujoco["curriculum"]["weights"]
    assert grids == ((2, 10, 12) if per_gait else (10, 12))
    assert ({"coverage_trot", "coverage_pace"} <= set(mujoco["metrics"])) == per_gait

    cfg_m.run_dir, cfg_i.run_dir = cfg_i.run_dir, cfg_m.run_dir  # swap: each engine continues the other's run
    cfg_m.iterations = cfg_i.iterations = 3
    assert train(cfg_m, progress=False)["iterations"] == 3
    assert runner.train_isaac(make(cfg_i), cfg_i, device="cpu", log=lambda *_: None)["iterations"] == 3
    for run, engine in ((tmp_path / "isaac", "mujoco"), (tmp_path / "mujoco", "isaacgym")):
        assert [r["iteration"] for r in read_curve(run)] == [1, 2, 3]
        assert torch.load(run / "checkpoints" / "ckpt_00003.pt", weights_only=True)["engine"] == engine
        assert load_weights_file(run / "actors" / "actor_00003.safetensors").extra["engine"] == engine


def test_runner_module_does_not_import_torch():
    """Isaac Gym refuses to load after torch: importing the runner (and its configuration) must not import it."""
    import subprocess
    import sys

    code = ("import sys, maa_go2.engines.isaac_runner as r; r.Go2TrainConfig(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_resolved_configs_load_without_maa_core_config(tmp_path):
    """Python 3.8 path: a resolved ``train:`` YAML (what every run writes) builds the same config."""
    import dataclasses
    from pathlib import Path

    from maa_go2.train_config import dataclass_from_plain, load_resolved_train_config, load_train_config

    composed = load_train_config(Path(__file__).resolve().parents[2] / "config" / "go2_agility.yaml")
    plain = {"train": dataclasses.asdict(composed)}
    assert dataclasses.asdict(dataclass_from_plain(Go2TrainConfig, plain["train"])) == plain["train"]
    path = tmp_path / "resolved.yaml"
    path.write_text(yaml.safe_dump(plain))
    assert load_resolved_train_config(path) == composed == load_train_config(path)
    with pytest.raises(ValueError, match="unknown"):
        dataclass_from_plain(Go2TrainConfig, {"env": {"num_env": 3}})
    with pytest.raises(ValueError, match="needs Python >= 3.10"):
        load_resolved_train_config(path, ["train.seed=3"])


def test_update_runs_on_the_isaac_buffers_shapes():
    from maa_go2.engines.isaac_runner import time_update

    assert time_update(num_envs=64, steps=4, history_len=HISTORY) > 0
    st_device = torch.device("cpu")
    st = RolloutStorage(2, 3, 77, 70, 7, 210, st_device)
    assert st.hist.shape == (2, 3, 210) and st.hist.device == st_device


def test_command_line_registers_builds_and_trains(tmp_path, isaac_env):
    """``python -m maa_go2.engines.isaac_runner`` end to end: config, registration with legged_gym, make_env
    (legged_gym's own options pass through), training, run directory."""
    import dataclasses

    _, runner = isaac_env
    cfg = tiny_config(tmp_path / "cli_run", iterations=1)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"train": dataclasses.asdict(cfg)}))
    runner.main(["--config", str(path), "--num-envs", "3", "--rl_device", "cpu", "--sim_device", "cpu",
                 "--pipeline", "cpu", "--headless", "--no-resume"])
    summary = json.loads((tmp_path / "cli_run" / "summary.json").read_text())
    assert summary["num_envs"] == 3 and summary["iterations"] == 1 and summary["engine"] == "isaacgym"


def _gait_config(run_dir, gaits, iterations=2, seed=1, init_from=""):
    """:func:`tiny_config` commanding ``gaits``, one command grid per gait (what distillation needs)."""
    import dataclasses

    from maa_go2.commands import CommandRanges
    from maa_go2.curriculum import CurriculumConfig

    cfg = tiny_config(run_dir, iterations=iterations, num_envs=4)
    env = dataclasses.replace(cfg.env, commands=CommandRanges(gaits=list(gaits)),
                              curriculum=CurriculumConfig(enabled=True, per_gait=True))
    return dataclasses.replace(cfg, seed=seed, init_from=init_from, env=env)


def test_command_line_distills_gait_teachers_on_the_isaac_task_as_on_mujoco(tmp_path, isaac_env):
    """``isaac_runner --distill``: teachers trained on the Isaac task, distilled there into one actor; the run has the
    layout a MuJoCo distillation (``training/distill_go2.py``) writes, and the command line refuses bad sections."""
    import dataclasses

    from maa_go2.distill import DistillConfig, run_distill
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.train import MujocoTask

    make, runner = isaac_env
    trot = _gait_config(tmp_path / "trot", ["trot"])
    runner.train_isaac(make(trot), trot, log=lambda *_: None)
    pace = _gait_config(tmp_path / "pace", ["pace"], seed=2, init_from=str(tmp_path / "trot/checkpoints/ckpt_00001.pt"))
    runner.train_isaac(make(pace), pace, log=lambda *_: None)
    teachers = {"trot": str(tmp_path / "trot"), "pace": str(tmp_path / "pace")}  # run dirs: their newest checkpoint
    distill = {"teachers": teachers, "student_init": teachers["trot"], "teacher_iterations": 1}
    student = _gait_config(tmp_path / "isaac_student", ["trot", "pace"])
    path = tmp_path / "distill.yaml"
    path.write_text(yaml.safe_dump({"train": dataclasses.asdict(student), "distill": distill}))
    legged_gym_args = ["--rl_device", "cpu", "--sim_device", "cpu", "--pipeline", "cpu", "--headless"]
    runner.main(["--config", str(path), "--distill", "--num-envs", "4", *legged_gym_args])

    summary = json.loads((tmp_path / "isaac_student" / "summary.json").read_text())
    assert summary["engine"] == "isaacgym" and summary["iterations"] == 2 and summary["teacher_wall_clock_s"] > 0
    assert summary["teachers"] == {g: str(tmp_path / g / "checkpoints" / "ckpt_00002.pt") for g in teachers}
    rows = read_curve(tmp_path / "isaac_student")
    assert all(r["distill_mse_after"] < r["distill_mse"] for r in rows)  # the student fits the teachers' labels
    on_mujoco = dataclasses.replace(student, run_dir=str(tmp_path / "mujoco_student"))
    run_distill(MujocoTask(MujocoGo2Env(on_mujoco.env, seed=1)), on_mujoco, DistillConfig(**distill), progress=False)
    (mujoco, _), (isaac, engine) = _layout(tmp_path / "mujoco_student"), _layout(tmp_path / "isaac_student")
    assert mujoco == isaac and engine == "isaacgym" and isaac["curriculum"]["weights"] == (2, 10, 12)

    bad = tmp_path / "bad.yaml"
    for teachers_, match in (({}, "distill.teachers"), ({"trot": teachers["trot"]}, "no teacher for commanded gait")):
        bad.write_text(yaml.safe_dump({"train": dataclasses.asdict(student),
                                       "distill": {**distill, "teachers": teachers_}}))
        with pytest.raises(ValueError, match=match):
            runner.main(["--config", str(bad), "--distill", *legged_gym_args])
    missing = f"distill.teachers.pace={tmp_path / 'no_such_run'}"
    with pytest.raises(ValueError, match="train that run first"):
        runner.main(["--config", str(path), "--distill", "--set", missing, *legged_gym_args])
    with pytest.raises(SystemExit, match="always resumes"):
        runner.main(["--config", str(path), "--distill", "--no-resume", *legged_gym_args])
