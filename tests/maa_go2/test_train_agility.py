"""Go2 training for the agility issue: the learning curve, the wall-clock budget, SIGTERM, the curriculum in the
checkpoint, and the agility config for both engines."""
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from maa_core.config import from_dict
from maa_go2.run_dir import checkpoint_files, read_curve
from maa_go2.train import train
from maa_go2.train_config import Go2TrainConfig, load_train_config

ROOT = Path(__file__).resolve().parents[2]
TINY = {"iterations": 3, "save_interval": 2, "env": {"num_envs": 4, "history_len": 3,
                                                     "curriculum": {"enabled": True, "step": 1.0}},
        "ppo": {"steps_per_env": 4, "epochs": 1, "minibatches": 2}}


def test_curve_rows_per_iteration_and_resume_drops_rows_after_the_checkpoint(tmp_path):
    cfg = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path / "run")})
    train(cfg, progress=False)
    rows = read_curve(tmp_path / "run")
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert rows[-1]["env_steps"] == 3 * 4 * 4 and {"vx_abs_error", "yaw_abs_error", "contact_match"} <= set(rows[0])
    (tmp_path / "run" / "checkpoints" / "ckpt_00003.pt").unlink()  # as if killed after iteration 3's curve row
    with open(tmp_path / "run" / "curve.jsonl", "a") as fh:
        fh.write('{"iteration": 4, "trunc')  # and a half-written line
    cfg.iterations = 4
    train(cfg, progress=False)
    assert [r["iteration"] for r in read_curve(tmp_path / "run")] == [1, 2, 3, 4]


def test_curriculum_state_is_checkpointed(tmp_path):
    cfg = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path / "run")})
    train(cfg, progress=False)
    state = torch.load(checkpoint_files(tmp_path / "run" / "checkpoints")[0], weights_only=True)
    assert state["curriculum"]["weights"].shape == (10, 12)


def test_wall_clock_budget_stops_with_a_checkpoint(tmp_path):
    cfg = from_dict(Go2TrainConfig, {**TINY, "iterations": 50, "save_interval": 100, "max_wall_clock_s": 1e-6,
                                      "run_dir": str(tmp_path / "run")})
    summary = train(cfg, progress=False)
    assert summary["iterations"] == 1
    assert [p.name for p in checkpoint_files(tmp_path / "run" / "checkpoints")] == ["ckpt_00001.pt"]


def test_wall_clock_budget_is_not_overrun_by_the_last_iteration(tmp_path, monkeypatch):
    """With every iteration taking 3 s of a 10 s budget the run stops after 3 iterations (9 s), not 4 (12 s)."""
    from maa_go2 import ppo_loop

    clock = {"t": 0.0}

    def fake_time():  # a clock that moves 1 ms per reading, and 3 s per iteration
        clock["t"] += 1e-3
        return clock["t"]

    real_iteration = ppo_loop.ppo_iteration

    def slow_iteration(*args, **kwargs):
        out = real_iteration(*args, **kwargs)
        clock["t"] += 3.0
        return out

    monkeypatch.setattr(ppo_loop, "time", SimpleNamespace(time=fake_time))  # the loop's clock only
    monkeypatch.setattr(ppo_loop, "ppo_iteration", slow_iteration)
    cfg = from_dict(Go2TrainConfig, {**TINY, "iterations": 50, "save_interval": 100, "max_wall_clock_s": 10.0,
                                      "run_dir": str(tmp_path / "run")})
    summary = train(cfg, progress=False)
    assert summary["iterations"] == 3 and summary["train_wall_clock_s"] <= 10.0


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    cfg_path = tmp_path / "cfg.yaml"
    run = tmp_path / "run"
    cfg_path.write_text(json.dumps({"train": {**TINY, "iterations": 100000, "save_interval": 100000,
                                              "run_dir": str(run)}}))
    proc = subprocess.Popen([sys.executable, str(ROOT / "training" / "train_go2.py"), "--config", str(cfg_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while not read_curve(run) and time.time() < deadline:
        time.sleep(0.2)
    assert read_curve(run), "training never started"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-2000:]
    assert "SIGTERM" in out
    assert checkpoint_files(run / "checkpoints"), "no checkpoint written on SIGTERM"


@pytest.mark.parametrize("name", ["go2_agility.yaml", "go2_agility_v2.yaml", "go2_agility_v3.yaml",
                                  "go2_agility_v4.yaml", "go2_agility_v5.yaml", "go2_agility_v6.yaml"])
def test_agility_config_covers_the_command_space_for_both_engines(name):
    from maa_go2.engines.isaacgym_go2 import cfg_members
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config

    cfg = load_train_config(ROOT / "config" / name)
    c = cfg.env.commands
    # the command space (vx [-1.0, 1.5], vy [-0.6, 0.6], yaw [-1.5, 1.5]) inside the trained one
    assert c.lin_vel_x[0] <= -1.0 and c.lin_vel_x[1] >= 1.5 and c.lin_vel_y == [-0.6, 0.6]
    assert c.ang_vel_yaw[0] <= -1.5 and c.ang_vel_yaw[1] >= 1.5
    assert sorted(c.gaits) == ["bound", "pace", "pronk", "trot"]
    assert c.gait_frequency == [2.0, 4.0]
    assert cfg.env.curriculum.enabled and cfg.max_wall_clock_s == 10800 and cfg.sim_threads == 2
    isaac = apply_env_config(Go2WTWCfg(), cfg.env)
    ranges = cfg_members(isaac.commands.ranges)
    assert all(ranges[k] == list(getattr(c, k)) for k in ranges)
    assert cfg_members(isaac.commands.wtw_curriculum) == {k: (list(v) if isinstance(v, list) else v)
                                                          for k, v in vars(cfg.env.curriculum).items()}
    assert cfg_members(isaac.rewards.scales) == cfg.env.rewards.scales
    assert isaac.rewards.sigma_rew_neg == cfg.env.rewards.sigma_rew_neg
    assert isaac.rewards.tracking_sigma == cfg.env.rewards.tracking_sigma
    assert isaac.domain_rand.friction_range == cfg.env.domain_rand.friction
    from maa_go2.engines.legged_gym_config import randomization_config
    assert randomization_config(isaac) == cfg.env.domain_rand  # passive joint losses included
    assert cfg.env.domain_rand.joint_damping[1] > 0 and cfg.env.domain_rand.joint_friction[1] > 0
    with pytest.raises(Exception, match="lin_vel_x"):
        load_train_config(ROOT / "config" / name, ["train.env.commands.lin_vel_x=[2.0,1.0]"])


def test_third_agility_run_trains_on_the_model_error_and_stages_the_step_frequency():
    from maa_go2.collect import load_collect_config
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config, randomization_config

    cfg = load_train_config(ROOT / "config" / "go2_agility_v3.yaml")
    dr, cur = cfg.env.domain_rand, cfg.env.curriculum
    assert dr.torque_limit_scale == [0.75, 1.0] and dr.actuation_delay_ms == [0.0, 10.0]
    assert cur.initial_gait_frequency == [2.5, 3.5] and cur.full_gait_frequency_after_env_steps > 0
    assert cfg.ppo.adaptation_epochs == 2 and cfg.run_dir == "runs/go2_agility_v3"
    isaac = apply_env_config(Go2WTWCfg(), cfg.env)
    assert isaac.domain_rand.randomize_torque_limit_scale and isaac.domain_rand.randomize_actuation_delay
    assert randomization_config(isaac) == dr
    zoo = load_collect_config(ROOT / "config" / "go2_collect_agility_v3.yaml")
    assert [str(r) for r in zoo.runs] == ["runs/go2_agility_v3"] and str(zoo.out) == "runs/go2_zoo_agility_v3"


def test_fourth_agility_run_is_the_third_with_a_cheaper_update():
    from maa_go2.collect import load_collect_config

    v3 = load_train_config(ROOT / "config" / "go2_agility_v3.yaml")
    v4 = load_train_config(ROOT / "config" / "go2_agility_v4.yaml")
    assert v4.env == v3.env and v4.max_wall_clock_s == v3.max_wall_clock_s == 10800
    assert (v4.ppo.epochs, v4.ppo.adaptation_epochs, v4.ppo.minibatches) == (3, 1, v3.ppo.minibatches)
    assert v4.run_dir == "runs/go2_agility_v4"
    zoo = load_collect_config(ROOT / "config" / "go2_collect_agility_v4.yaml")
    assert [str(r) for r in zoo.runs] == ["runs/go2_agility_v4"] and str(zoo.out) == "runs/go2_zoo_agility_v4"


def test_fifth_agility_run_is_the_third_with_single_axis_commands_in_both_engines():
    from maa_go2.collect import load_collect_config
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config, command_ranges

    v3 = load_train_config(ROOT / "config" / "go2_agility_v3.yaml")
    v5 = load_train_config(ROOT / "config" / "go2_agility_v5.yaml")
    assert v5.env.commands.single_axis_fraction == 0.2 and v3.env.commands.single_axis_fraction == 0.0
    assert dataclasses.replace(v5.env.commands, single_axis_fraction=0.0) == v3.env.commands
    assert v5.env.domain_rand == v3.env.domain_rand and v5.env.curriculum == v3.env.curriculum
    assert v5.ppo == v3.ppo and v5.stagger_episodes and v5.run_dir == "runs/go2_agility_v5"
    assert command_ranges(apply_env_config(Go2WTWCfg(), v5.env)) == v5.env.commands
    zoo = load_collect_config(ROOT / "config" / "go2_collect_agility_v5.yaml")
    assert [str(r) for r in zoo.runs] == ["runs/go2_agility_v5"] and str(zoo.out) == "runs/go2_zoo_agility_v5"


def test_sixth_agility_run_is_the_fifth_recipe_in_its_own_run_dir():
    from maa_go2.collect import load_collect_config

    v5 = load_train_config(ROOT / "config" / "go2_agility_v5.yaml")
    v6 = load_train_config(ROOT / "config" / "go2_agility_v6.yaml")
    assert dataclasses.replace(v6, run_dir=v5.run_dir) == v5 and v6.run_dir == "runs/go2_agility_v6"
    zoo = load_collect_config(ROOT / "config" / "go2_collect_agility_v6.yaml")
    assert [str(r) for r in zoo.runs] == ["runs/go2_agility_v6"] and str(zoo.out) == "runs/go2_zoo_agility_v6"


def test_reproduce_script_accepts_every_agility_run_with_its_configs():
    script = (ROOT / "scripts" / "reproduce_go2_agility.sh").read_text()
    case = re.search(r'case "\$AGILITY" in ([\w|]+)\)', script)
    assert case, "the AGILITY case statement moved"
    runs = case.group(1).split("|")
    assert runs == ["v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16"]
    for run in runs:
        assert (ROOT / "config" / f"go2_agility_{run}.yaml").is_file()
    for run in runs[:-10]:  # the seventh to sixteenth runs' actors were not made into a zoo: their collect step says so
        assert (ROOT / "config" / f"go2_collect_agility_{run}.yaml").is_file()
    assert "no config/go2_collect_agility_$AGILITY.yaml" in script
    # the report of record is the sixteenth run's, on the protocol the runs are compared on
    assert "OUT=results/go2/agility_$AGILITY; [[ $AGILITY == v16 ]] && OUT=results/go2/agility" in script
    assert "--num-envs 96 --episodes 100 --seed 1" in script and "--randomization config/go2_agility_v2.yaml" in script


def test_seventh_run_continues_the_sixth_over_the_evaluated_model_error():
    """v7 = v6's final checkpoint (weights, optimizer, curricula) trained on with the changes its config names."""
    v6 = load_train_config(ROOT / "config" / "go2_agility_v6.yaml")
    v7 = load_train_config(ROOT / "config" / "go2_agility_v7.yaml")
    assert v7.init_from == f"{v6.run_dir}/checkpoints/ckpt_{v6.iterations:05d}.pt" and v7.init_curriculum
    assert v7.run_dir == "runs/go2_agility_v7" and 0 < v7.max_wall_clock_s < v6.max_wall_clock_s
    dr6, dr7 = v6.env.domain_rand, v7.env.domain_rand
    # the evaluation's model error on the sixth run's robots: +1.0 N.m.s/rad damping, 80 % of the torque draw
    assert dr7.joint_damping[1] >= dr6.joint_damping[1] + 1.0
    assert dr7.torque_limit_scale[0] <= 0.8 * dr6.torque_limit_scale[0] + 1e-9
    assert v7.env.commands.single_axis_fraction > v6.env.commands.single_axis_fraction
    dr = dataclasses.replace(dr7, joint_damping=dr6.joint_damping, torque_limit_scale=dr6.torque_limit_scale,
                             added_mass=dr6.added_mass)
    env = dataclasses.replace(v7.env, commands=v6.env.commands, domain_rand=dr)
    same = dataclasses.replace(v7, run_dir=v6.run_dir, init_from="", init_curriculum=False, iterations=v6.iterations,
                               max_wall_clock_s=v6.max_wall_clock_s, env=env)
    assert same == v6  # nothing else changed


def test_eighth_run_is_the_sixth_recipe_with_trot_and_pace_trained_together_in_both_engines():
    """v8 changes only the gait curriculum's order (trot and pace open from the start), its run dir and its budget."""
    from maa_go2.curriculum import GaitCurriculum
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config, command_ranges, curriculum_config

    v6 = load_train_config(ROOT / "config" / "go2_agility_v6.yaml")
    v8 = load_train_config(ROOT / "config" / "go2_agility_v8.yaml")
    assert v8.env.commands.gaits == ["trot", "pace", "pronk", "bound"] and v8.env.curriculum.gaits_initial == 2
    gaits = GaitCurriculum(v8.env.curriculum, v8.env.commands.gaits)
    assert gaits.open == 2 and {tuple(row) for row in gaits.sample(np.random.default_rng(0), 64)} == {
        (0.5, 0.0, 0.0), (0.0, 0.0, 0.5)}  # trot and pace rows only, both drawn
    env = dataclasses.replace(v8.env, commands=dataclasses.replace(v8.env.commands, gaits=v6.env.commands.gaits),
                              curriculum=dataclasses.replace(v8.env.curriculum, gaits_initial=1))
    assert env == v6.env and v8.ppo == v6.ppo and v8.init_from == "" and not v8.init_curriculum
    assert v8.run_dir == "runs/go2_agility_v8" and v8.max_wall_clock_s <= 6401
    isaac = apply_env_config(Go2WTWCfg(), v8.env)
    assert command_ranges(isaac) == v8.env.commands and curriculum_config(isaac) == v8.env.curriculum


def test_ninth_run_continues_the_eighth_with_the_seventh_runs_changes_within_the_budget():
    v7 = load_train_config(ROOT / "config" / "go2_agility_v7.yaml")
    v8 = load_train_config(ROOT / "config" / "go2_agility_v8.yaml")
    v9 = load_train_config(ROOT / "config" / "go2_agility_v9.yaml")
    assert v9.init_from.startswith(f"{v8.run_dir}/checkpoints/ckpt_") and v9.init_curriculum
    # the eighth run stopped at its 6,000 iterations after 6,043 s (measured), before its 6,400 s cap
    assert v8.iterations == 6000 and 6043 + v9.max_wall_clock_s <= 10800 and v9.run_dir == "runs/go2_agility_v9"
    assert v9.env.domain_rand == v7.env.domain_rand
    assert v9.env.commands == dataclasses.replace(v8.env.commands,
                                                  single_axis_fraction=v7.env.commands.single_axis_fraction)
    assert v9.env.curriculum.gait_open_after_env_steps > 0 == v8.env.curriculum.gait_open_after_env_steps
    assert dataclasses.replace(v9.env.curriculum, gait_open_after_env_steps=0) == v8.env.curriculum
    assert v9.ppo == v8.ppo


def test_tenth_run_continues_the_eighths_iteration_600_with_per_gait_gated_grids_in_both_engines():
    """v10 = v8's iteration 600 trained on with v9's randomization and commands, one (vx, yaw) grid per gait, the
    non-trot grids gated on contact match; the Isaac Gym config carries the same curriculum."""
    from maa_go2.curriculum import CommandSampler, GaitwiseCurriculum
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config, curriculum_config

    v8 = load_train_config(ROOT / "config" / "go2_agility_v8.yaml")
    v9 = load_train_config(ROOT / "config" / "go2_agility_v9.yaml")
    v10 = load_train_config(ROOT / "config" / "go2_agility_v10.yaml")
    assert v10.init_from == f"{v8.run_dir}/checkpoints/ckpt_00600.pt" and v10.init_curriculum
    # the eighth run's first 600 iterations took 662 s (runs/go2_agility_v8/curve.jsonl, measured)
    assert 662 + v10.max_wall_clock_s <= 10800 and v10.run_dir == "runs/go2_agility_v10"
    cur = v10.env.curriculum
    assert cur.per_gait and cur.min_contact_match > 0 and cur.ungated_gaits == ["trot"]
    assert sorted(cur.per_gait_restart) == ["bound", "pronk"]
    gateless = dataclasses.replace(cur, per_gait=False, min_contact_match=0.0, ungated_gaits=[], per_gait_restart=[])
    assert gateless == v9.env.curriculum
    assert dataclasses.replace(v10.env, curriculum=v9.env.curriculum) == v9.env and v10.ppo == v9.ppo
    sampler = CommandSampler(v10.env.commands, cur, np.random.default_rng(0), 4)
    assert isinstance(sampler.curriculum, GaitwiseCurriculum)
    assert curriculum_config(apply_env_config(Go2WTWCfg(), v10.env)) == cur


def test_eleventh_runs_trot_and_pace_teacher_continues_pilot_4_within_the_budget():
    """The first teacher of the eleventh run: pilot 4 (trot and pace only) continued; pronk and bound stay closed."""
    pilot = load_train_config(ROOT / "config" / "go2_gait_pilot_v10_trot_pace.yaml")
    v10 = load_train_config(ROOT / "config" / "go2_agility_v10.yaml")
    teacher = load_train_config(ROOT / "config" / "go2_agility_v11_trot_pace.yaml")
    assert pilot.init_from == v10.init_from and pilot.iterations == 900
    assert teacher.init_from == f"{pilot.run_dir}/checkpoints/ckpt_00900.pt" and teacher.init_curriculum
    cur = teacher.env.curriculum
    assert cur.gait_contact_match > 1 - 1e-9 and cur.gait_open_after_env_steps == 0  # pronk and bound never open
    assert dataclasses.replace(cur, gait_contact_match=v10.env.curriculum.gait_contact_match,
                               gait_open_after_env_steps=v10.env.curriculum.gait_open_after_env_steps) == \
        v10.env.curriculum
    # measured: the eighth run's 600 iterations 662 s, pilot 4 977 s; the rest is for two teachers and the distillation
    assert 662 + 977 + teacher.max_wall_clock_s <= 10800 - 4000


def test_eleventh_run_distills_three_teachers_within_the_budget():
    from maa_core.config import load_config
    from maa_go2.distill import DistillConfig, check_gaits

    path = ROOT / "config" / "go2_agility_v11.yaml"
    student, distill = load_train_config(path), load_config(DistillConfig, path, [], section="distill")
    check_gaits(student, distill)  # every commanded gait has a teacher, all open, one grid each
    assert sorted(distill.teachers) == sorted(student.env.commands.gaits) == ["bound", "pace", "pronk", "trot"]
    runs = {g: load_train_config(ROOT / "config" / f"go2_agility_v11_{g}.yaml")
            for g in ("trot_pace", "pronk", "bound")}
    assert distill.teachers["trot"] == distill.teachers["pace"] == runs["trot_pace"].run_dir == distill.student_init
    for gait in ("pronk", "bound"):
        assert distill.teachers[gait] == runs[gait].run_dir and runs[gait].env.commands.gaits == [gait]
        assert runs[gait].init_from == "runs/go2_agility_v8/checkpoints/ckpt_00600.pt"
    # measured: the eighth run's first 600 iterations 662 s, pilot 4 977 s
    total = 662 + 977 + sum(r.max_wall_clock_s for r in runs.values()) + student.max_wall_clock_s
    assert total <= 10800


def test_twelfth_run_continues_two_eleventh_teachers_and_distills_within_the_budget():
    """The twelfth run: the eleventh run's trot-and-pace and pronk teachers trained longer (optimizer and grids kept),
    its bound teacher as it is, distilled as in the eleventh run."""
    from maa_go2.distill import check_gaits, load_distill_config

    path = ROOT / "config" / "go2_agility_v12.yaml"
    student, distill = load_train_config(path), load_distill_config(path)
    check_gaits(student, distill)
    v11 = load_train_config(ROOT / "config" / "go2_agility_v11.yaml")
    assert dataclasses.replace(student, run_dir=v11.run_dir, max_wall_clock_s=v11.max_wall_clock_s) == v11
    eleventh = {g: load_train_config(ROOT / "config" / f"go2_agility_v11_{g}.yaml")
                for g in ("trot_pace", "pronk", "bound")}
    twelfth = {g: load_train_config(ROOT / "config" / f"go2_agility_v12_{g}.yaml") for g in ("trot_pace", "pronk")}
    for gait, run in twelfth.items():
        source = eleventh[gait]
        assert run.init_from == source.run_dir and run.init_curriculum  # where its budget stopped that teacher
        assert dataclasses.replace(run, run_dir=source.run_dir, init_from=source.init_from,
                                   init_curriculum=source.init_curriculum, iterations=source.iterations,
                                   max_wall_clock_s=source.max_wall_clock_s) == source
    assert distill.teachers == {"trot": twelfth["trot_pace"].run_dir, "pace": twelfth["trot_pace"].run_dir,
                                "pronk": twelfth["pronk"].run_dir, "bound": eleventh["bound"].run_dir}
    assert distill.student_init == twelfth["trot_pace"].run_dir
    # measured: the eighth run's first 600 iterations 662-682 s, pilot 4 945-977 s
    total = 682 + 977 + sum(r.max_wall_clock_s for r in [*eleventh.values(), *twelfth.values(), student])
    assert total <= 10800


@pytest.mark.parametrize("run, section, key, value", [("v13", "curriculum", "error_priority", 0.5),
                                                     ("v14", "commands", "single_axis_fraction", 0.6)])
def test_thirteenth_and_fourteenth_runs_give_the_bound_teachers_time_to_trot_and_pace(run, section, key, value):
    """The thirteenth (fourteenth) run: the twelfth trot-and-pace teacher trained on with one change (error-weighted
    draws; more single-axis commands); it also labels bound, whose own teacher taught nothing; the pronk teacher is the
    twelfth run's; the student is distilled as in the twelfth run."""
    from maa_go2.distill import check_gaits, load_distill_config

    path = ROOT / "config" / f"go2_agility_{run}.yaml"
    student, distill = load_train_config(path), load_distill_config(path)
    check_gaits(student, distill)
    v12 = load_train_config(ROOT / "config" / "go2_agility_v12.yaml")
    assert dataclasses.replace(student, run_dir=v12.run_dir) == v12
    cfg = lambda name: load_train_config(ROOT / "config" / f"go2_agility_{name}.yaml")  # noqa: E731
    tp12, teacher = cfg("v12_trot_pace"), cfg(f"{run}_trot_pace")
    assert teacher.init_from == tp12.run_dir and teacher.init_curriculum
    changed = dataclasses.replace(getattr(tp12.env, section), **{key: value})
    assert getattr(teacher.env, section) == changed != getattr(tp12.env, section)
    assert dataclasses.replace(teacher, run_dir=tp12.run_dir, init_from=tp12.init_from,
                               env=dataclasses.replace(teacher.env, **{section: getattr(tp12.env, section)}),
                               max_wall_clock_s=tp12.max_wall_clock_s) == tp12
    assert distill.teachers == {"trot": teacher.run_dir, "pace": teacher.run_dir, "bound": teacher.run_dir,
                                "pronk": cfg("v12_pronk").run_dir}
    assert distill.student_init == teacher.run_dir
    stages = [cfg(n) for n in ("v11_trot_pace", "v12_trot_pace", f"{run}_trot_pace", "v11_pronk", "v12_pronk")]
    # measured: the eighth run's first 600 iterations 662-682 s, pilot 4 945-977 s
    assert 682 + 977 + sum(r.max_wall_clock_s for r in [*stages, student]) <= 10800


def test_fifteenth_run_trains_teacher_and_student_on_engine_integrated_damping():
    """The fifteenth run: the fourteenth with ``engine_joint_damping`` in the teacher's and the student's robots, and
    nothing else changed; both engines get the range; the budget is the fourteenth run's."""
    from maa_go2.distill import check_gaits, load_distill_config
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config, randomization_config

    cfg = lambda name: load_train_config(ROOT / "config" / f"go2_agility_{name}.yaml")  # noqa: E731
    for new, old in (("v15_trot_pace", "v14_trot_pace"), ("v15", "v14")):
        a, b = cfg(new), cfg(old)
        assert a.env.domain_rand.engine_joint_damping == [0.0, 1.5] and b.env.domain_rand.engine_joint_damping == [0, 0]
        same = dataclasses.replace(a.env.domain_rand, engine_joint_damping=[0.0, 0.0])
        assert dataclasses.replace(a, run_dir=b.run_dir, env=dataclasses.replace(a.env, domain_rand=same)) == b
        isaac = apply_env_config(Go2WTWCfg(), a.env)
        assert isaac.domain_rand.engine_joint_damping_range == [0.0, 1.5]
        assert randomization_config(isaac) == a.env.domain_rand
    path = ROOT / "config" / "go2_agility_v15.yaml"
    student, distill = load_train_config(path), load_distill_config(path)
    check_gaits(student, distill)
    teacher = cfg("v15_trot_pace").run_dir
    assert distill.teachers == {"trot": teacher, "pace": teacher, "bound": teacher, "pronk": cfg("v12_pronk").run_dir}
    assert distill.student_init == teacher
    assert cfg("v15_trot_pace").max_wall_clock_s == cfg("v14_trot_pace").max_wall_clock_s == 1500


def test_sixteenth_run_tightens_the_teachers_tracking_width_and_nothing_else():
    """The sixteenth run: the fourteenth with ``rewards.tracking_sigma`` 0.1 for the trot-and-pace teacher (both
    engines get it), the same student recipe on the new teacher, and the fourteenth run's budget."""
    from maa_go2.distill import check_gaits, load_distill_config
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config

    cfg = lambda name: load_train_config(ROOT / "config" / f"go2_agility_{name}.yaml")  # noqa: E731
    a, b = cfg("v16_trot_pace"), cfg("v14_trot_pace")
    assert a.env.rewards.tracking_sigma == 0.1 and b.env.rewards.tracking_sigma == 0.25
    same = dataclasses.replace(a.env.rewards, tracking_sigma=0.25)
    assert dataclasses.replace(a, run_dir=b.run_dir, env=dataclasses.replace(a.env, rewards=same)) == b
    assert apply_env_config(Go2WTWCfg(), a.env).rewards.tracking_sigma == 0.1
    assert dataclasses.replace(cfg("v16"), run_dir="runs/go2_agility_v14") == cfg("v14")
    path = ROOT / "config" / "go2_agility_v16.yaml"
    student, distill = load_train_config(path), load_distill_config(path)
    check_gaits(student, distill)
    teacher = a.run_dir
    assert distill.teachers == {"trot": teacher, "pace": teacher, "bound": teacher, "pronk": cfg("v12_pronk").run_dir}
    assert distill.student_init == teacher and a.max_wall_clock_s == b.max_wall_clock_s == 1500
