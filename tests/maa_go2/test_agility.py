"""Agility evaluation: scenarios through the cmd_vel path, the mat course, model error, and the report (tiny)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from maa_core.weights_io import load_weights_file
from maa_go2 import scenarios
from maa_go2.agility import rate_intervals
from maa_go2.checkpoints import load_adaptation
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import EnvConfig
from maa_go2.evaluation import ActorRunner
from maa_go2.mismatch import MISMATCH_CASES, ablation_cases, apply_mismatch
from maa_go2.teleop import TeleopConfig
from maa_go2.terrain import MatCourse, course_model, footprint_hits

ROOT = Path(__file__).resolve().parents[2]
ACTOR = ROOT / "results" / "go2" / "actor_seed0_it475.safetensors"
ADAPTATION = ROOT / "results" / "go2" / "adaptation_module.safetensors"


@pytest.fixture(scope="module")
def runner():
    w = load_weights_file(ACTOR)
    return ActorRunner(w.layout, w.flat, load_adaptation(ADAPTATION))


def test_pursuit_turns_toward_the_waypoint_and_slows_when_misaligned():
    ctl = scenarios.PursuitController()
    cmd = ctl.command(np.zeros((3, 2)), np.array([0.0, 0.0, np.pi]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
    assert cmd[0, 0] == pytest.approx(1.0) and cmd[0, 2] == pytest.approx(0.0)  # straight ahead
    assert cmd[1, 2] == pytest.approx(1.5) and cmd[1, 0] == pytest.approx(ctl.min_speed)  # 90 deg left
    assert abs(cmd[2, 2]) == pytest.approx(1.5) and cmd[2, 0] == pytest.approx(ctl.min_speed)  # behind


def test_footprint_overlap_uses_the_body_rectangle():
    course = MatCourse(obstacles=[[1.0, 0.0]], obstacle_radius=0.1)
    xy = np.array([[0.6, 0.0], [0.5, 0.0], [1.0, 0.3], [1.0, 0.2]])
    hits = footprint_hits(xy, np.zeros(4), course)
    assert hits.tolist() == [True, False, False, True]  # 0.35 m half length, 0.155 m half width
    assert footprint_hits(np.array([[1.0, 0.3]]), np.array([np.pi / 2]), course).tolist() == [True]  # turned


def test_course_model_has_a_soft_uneven_mat_and_obstacles():
    course = MatCourse(bump_height=0.04)
    m = course_model(course, seed=3)
    import mujoco

    mat = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "mat")
    floor = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    assert m.geom_solref[mat, 0] == pytest.approx(0.04) and m.geom_solref[floor, 0] < 0.04
    assert m.hfield_size[0, 2] == pytest.approx(0.04) and np.ptp(m.hfield_data) > 0.5
    assert all(mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"obstacle_{i}") >= 0 for i in range(3))
    with pytest.raises(ValueError, match="bump_height"):
        MatCourse(bump_height=0.5)


def test_scenarios_tell_a_straight_walker_from_a_turner(runner):
    # the committed actor was trained for |yaw| <= 1 rad/s and barely turns (issue 12), but walks backward well
    turn = scenarios.turn_in_place(runner, episodes=3, seed=0)
    back = scenarios.fast_backward(runner, episodes=3, seed=0)
    assert turn["success"] == 0.0 and turn["heading_change_rad_mean"] < 2.0
    assert back["success"] >= 2 / 3 and back["distance_m_mean"] == pytest.approx(5.0, rel=0.15)


def test_fast_backward_through_heading_control_keeps_the_heading(runner):
    free = scenarios.fast_backward(runner, episodes=3, seed=0, teleop=TeleopConfig(heading_gain=0.0))
    held = scenarios.fast_backward(runner, episodes=3, seed=0, teleop=TeleopConfig(heading_gain=4.0))
    assert held["heading_gain"] == 4.0 and free["heading_gain"] == 0.0 and held["survival"] == 1.0
    assert held["heading_drift_rad_mean"] < 0.4 * free["heading_drift_rad_mean"]  # the corrections reach the robot
    assert held["distance_m_mean"] == pytest.approx(5.0, rel=0.15)


def test_heading_control_brings_an_over_turning_actor_to_the_commanded_turn():
    # the agility actor turns 7.2 rad for a commanded 6 on these robots (library-default physics)
    w = load_weights_file(ROOT / "results" / "go2" / "agility_actor.safetensors")
    agile = ActorRunner(w.layout, w.flat, load_adaptation(ROOT / "models" / "go2" / "adaptation.safetensors"))
    open_loop = scenarios.turn_in_place(agile, episodes=4, seed=0, teleop=TeleopConfig(heading_gain=0.0))
    closed = scenarios.turn_in_place(agile, episodes=4, seed=0)
    assert open_loop["heading_change_rad_mean"] > 6.9 and open_loop["success"] <= 0.25
    assert closed["heading_change_rad_mean"] == pytest.approx(6.0, abs=0.4) and closed["success"] == 1.0


def test_scenario_commands_go_through_the_velocity_command_limits(runner):
    sr = scenarios.ScenarioRunner(runner, episodes=2, seconds=0.5)
    sr.step(np.array([[5.0, 0.0, 0.0], [0.0, 0.0, -9.0]]))
    assert sr.env.commands[0, 0] == 1.5 and sr.env.commands[1, 2] == -1.5  # clamped like /cmd_vel


def test_each_mismatch_knob_changes_the_model(runner):
    env = MujocoGo2Env(EnvConfig(num_envs=4, history_len=2), seed=0)
    mass = env.variants[0].body_mass.copy()
    apply_mismatch(env, MISMATCH_CASES["all"], seed=0)
    v = env.variants[0]
    assert (v.dof_damping[6:] == 1.0).all() and (v.dof_frictionloss[6:] == pytest.approx(0.2))
    assert v.body_mass[env.base_body] > mass[env.base_body] + 4.0  # 5 kg payload (+- the link scaling)
    assert not np.allclose(v.body_mass[2:], mass[2:])
    assert (v.geom_friction[env.foot_geoms, 0] == 0.3).all()
    assert (env.torque_limit_scale == 0.8).all() and env.extra_delay_substeps.max() <= 4
    with pytest.raises(ValueError, match="unknown mismatch knob"):
        apply_mismatch(env, {"gravity": 2.0})
    with pytest.raises(ValueError, match="extra_latency_ms"):
        apply_mismatch(env, {"extra_latency_ms": 50.0})


def test_ablation_leaves_out_one_change_at_a_time():
    cases = ablation_cases()
    singles = [k for k in MISMATCH_CASES if k != "all"]
    assert list(cases) == ["all"] + [f"all_but_{k}" for k in singles] and cases["all"] == MISMATCH_CASES["all"]
    for name in singles:
        left = cases[f"all_but_{name}"]
        assert set(left) == set(MISMATCH_CASES["all"]) - set(MISMATCH_CASES[name])
        assert all(left[k] == MISMATCH_CASES["all"][k] for k in left)


def test_mismatch_ablation_command(tmp_path):
    out = tmp_path / "ablation"
    proc = subprocess.run([sys.executable, str(ROOT / "training" / "evaluate_go2_agility.py"), "--actor", str(ACTOR),
                           "--adaptation", str(ADAPTATION), "--out", str(out), "--tiny", "--mismatch-ablation"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.with_suffix(".json").read_text())
    singles = {k for k in MISMATCH_CASES if k != "all"}
    assert set(report["mismatch"]) == singles | set(ablation_cases()) and "vx_error" not in report
    assert all(0.0 <= r["survival_rate"] <= 1.0 for r in report["mismatch"].values())
    assert report["mismatch_survival_rate"] == min(r["survival_rate"] for r in report["mismatch"].values())
    assert report["physics_substeps"] == 1
    md = out.with_suffix(".md").read_text()
    assert "| all_but_payload |" in md and "| payload |" in md and "library defaults" in md
    assert "Physics: 1 MuJoCo step(s) per 5 ms" in md
    assert json.loads(proc.stdout.strip().splitlines()[-1]).keys() == report["mismatch"].keys()


def test_physics_substeps_is_only_for_the_mismatch_ablation(tmp_path):
    base = [sys.executable, str(ROOT / "training" / "evaluate_go2_agility.py"), "--actor", str(ACTOR),
            "--adaptation", str(ADAPTATION), "--out", str(tmp_path / "x"), "--tiny"]
    for extra in (["--physics-substeps", "2"], ["--mismatch-ablation", "--physics-substeps", "0"]):
        proc = subprocess.run(base + extra, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "--physics-substeps must be >= 1" in proc.stderr
        assert not list(tmp_path.iterdir())


def test_torque_limit_and_delay_act_on_the_physics():
    from maa_go2.randomization import RandomizationConfig

    def torques(delay_substeps=0, **knobs):
        env = MujocoGo2Env(EnvConfig(num_envs=2, history_len=2, domain_rand=RandomizationConfig(enabled=False)),
                           seed=0)
        apply_mismatch(env, knobs)
        env.extra_delay_substeps[:] = delay_substeps
        env.step(np.full((2, 12), 10.0))  # far-off targets: joints at their torque limits
        return env.torques.copy()

    from maa_go2.control import TORQUE_LIMITS

    half, full = np.abs(torques(torque_limit_scale=0.5)), np.abs(torques())
    assert (half <= 0.5 * TORQUE_LIMITS + 1e-9).all() and np.isclose(half, 0.5 * TORQUE_LIMITS).any()
    assert (full > 0.5 * TORQUE_LIMITS + 1e-3).any()
    assert not np.allclose(torques(delay_substeps=3), full)  # the old target held for 15 ms of the 20 ms step
    env = MujocoGo2Env(EnvConfig(num_envs=64, history_len=2), seed=0)
    apply_mismatch(env, {"extra_latency_ms": 20.0})
    assert set(env.extra_delay_substeps.tolist()) == {0, 1, 2, 3, 4}  # 0, 5, 10, 15, 20 ms


def test_agility_command_writes_the_report(tmp_path):
    out = tmp_path / "agility"
    proc = subprocess.run([sys.executable, str(ROOT / "training" / "evaluate_go2_agility.py"), "--actor", str(ACTOR),
                           "--adaptation", str(ADAPTATION), "--out", str(out), "--tiny",
                           "--randomization", str(ROOT / "config" / "go2_agility_v2.yaml")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.with_suffix(".json").read_text())
    for key in ("vx_error", "vy_error", "yaw_error", "yaw_error_worst", "survival_rate", "push_recovery_rate",
                "gait_contact_match", "gait_contact_match_min", "gait_freq_error_hz_max", "turn_in_place_success",
                "fast_backward_success", "fast_backward_open_loop_success", "turn_in_place_open_loop_success",
                "slalom_mat_success",
                "mismatch_survival_rate"):
        assert key in report, key
    for name in ("turn_in_place", "fast_backward"):
        assert report["scenarios"][f"{name}_open_loop"]["heading_gain"] == 0.0
        assert report["scenarios"][name]["heading_gain"] == TeleopConfig().heading_gain > 0
    assert set(report["gait_contact_match"]) == {"trot", "pronk", "pace", "bound"}
    assert report["randomization"]["joint_damping"] == [0.0, 1.0]  # the agility config's passive joint losses
    assert report["randomization"]["source"].endswith("go2_agility_v2.yaml")
    for key in ("gait_contact_match_by_freq", "gait_touch_rate_by_freq"):
        assert set(report[key]) == {"trot", "pronk", "pace", "bound"}
        assert all(set(v) == {"2", "3", "4"} for v in report[key].values())
    seen = [(g, f) for g, v in report["gait_contact_match_by_freq"].items() for f, m in v.items() if m is not None]
    assert seen and all(0.0 <= report["gait_contact_match_by_freq"][g][f] <= 1.0 for g, f in seen)
    lags = report["gait_lags_commanded"]
    assert lags["trot"] == [0.5, 0.5, 0.0] and lags["pronk"] == [0] * 3 and lags["pace"] == [0.5, 0.0, 0.5]
    assert all(len(v) == 3 for v in report["gait_lags_measured"].values())
    assert all(0.0 <= e <= 0.5 for e in report["gait_lag_error"].values() if e == e)
    assert report["targets"]["yaw_error"]["met"] is False  # this actor cannot turn at 1.5 rad/s
    for key, count in (("survival_rate", "num_envs"), ("slalom_mat_success", "episodes")):
        lo, hi = report["targets"][key]["interval_95"]
        assert report["targets"][key]["n"] == report[count] and lo <= report[key] <= hi
    assert "n" not in report["targets"]["vx_error"]
    assert out.with_suffix(".png").stat().st_size > 10000
    md = out.with_suffix(".md").read_text()
    assert "| figure | measured | 95 % interval (n) | target | met |" in md
    assert "| `yaw_error` |" in md and "**no**" in md and "| all |" in md and "| bound | [0.0, 0.5, 0.5] |" in md
    assert "| gait | 2 Hz: match, steps/s | 3 Hz: match, steps/s | 4 Hz: match, steps/s |" in md
    assert "| `fast_backward_open_loop_success` |" in md and "* Fast backward, open loop (heading control off)" in md
    assert "* Turn in place, deploy path (heading control on)" in md
    assert "training cost not known" in md and "nan env-steps" not in md  # --actor: no run, no cost


def test_evaluation_robots_draw_the_given_training_randomization():
    """Evaluations run on the evaluated run's randomization (passive joint losses included) when given one, and on
    the library defaults (no joint losses) otherwise; pushes stay the evaluation's own."""
    from maa_go2.env_config import evaluation_env_config
    from maa_go2.randomization import RandomizationConfig

    trained = RandomizationConfig(joint_damping=[0.0, 1.0], joint_friction=[0.0, 0.2], push_interval_s=8.0)
    cfg = evaluation_env_config(16, 3.0, 2, push_interval_s=2.0, push_max_vel=1.0, domain_rand=trained)
    assert cfg.domain_rand.push_interval_s == 2.0 and cfg.domain_rand.push_max_vel == 1.0
    assert cfg.domain_rand.joint_damping == [0.0, 1.0] and trained.push_interval_s == 8.0  # a copy
    env = MujocoGo2Env(cfg, seed=0)
    assert env.params["joint_damping"].max() > 0.1 and env.params["joint_friction"].max() > 0.02
    plain = MujocoGo2Env(evaluation_env_config(16, 3.0, 2), seed=0)
    assert not plain.params["joint_damping"].any() and not plain.params["joint_friction"].any()


def test_agility_command_picks_the_randomization(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("evaluate_go2_agility", ROOT / "training" / "evaluate_go2_agility.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text((ROOT / "config" / "go2_agility_v2.yaml").read_text().replace(
        "base: go2_agility.yaml", f"base: {ROOT / 'config' / 'go2_agility.yaml'}"))
    dr, source = mod.evaluation_randomization(None, run)  # the run's own
    assert dr.joint_damping == [0.0, 1.0] and source.endswith("config.yaml")
    assert mod.evaluation_randomization("default", run) == (None, "library defaults")
    assert mod.evaluation_randomization(None, None) == (None, "library defaults")
    with pytest.raises(SystemExit, match="no train config"):
        mod.evaluation_randomization(str(tmp_path / "missing.yaml"), None)


def test_square_route_is_followed_with_turns():
    from maa_go2.routes import RouteFollower, square

    corners = square(1.0, start=(2.0, 1.0), heading=np.pi / 2)
    np.testing.assert_allclose(corners[0], [2.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(corners[-1], [2.0, 1.0], atol=1e-12)
    follower = RouteFollower(square(1.0))
    xy, yaw, turned = np.zeros(2), 0.0, 0.0
    for _ in range(2000):  # an ideal unicycle at 50 Hz
        vx, _, wz = follower.command(xy, yaw)
        if follower.done:
            break
        yaw += wz * 0.02
        turned += wz * 0.02
        xy = xy + 0.02 * vx * np.array([np.cos(yaw), np.sin(yaw)])
    assert follower.done and turned == pytest.approx(1.5 * np.pi, abs=0.6)  # three left turns to close the square
    with pytest.raises(ValueError, match="waypoints"):
        RouteFollower(np.zeros((0, 2)))


def test_rate_intervals_count_robots_or_episodes_per_rate():
    report = {"survival_rate": 1.0, "turn_in_place_success": 0.85, "fast_backward_open_loop_success": 0.25,
              "mismatch_survival_rate": 0.5, "vx_error": 0.07, "num_envs": 48, "episodes": 20}
    got = rate_intervals(report)
    assert set(got) == {"survival_rate", "turn_in_place_success", "fast_backward_open_loop_success",
                        "mismatch_survival_rate"}
    assert got["survival_rate"]["n"] == 48 and got["turn_in_place_success"]["n"] == 20
    assert got["survival_rate"]["interval_95"][1] == 1.0 and 0.9 < got["survival_rate"]["interval_95"][0] < 1.0
    lo, hi = got["turn_in_place_success"]["interval_95"]
    assert 0.6 < lo < 0.7 and 0.94 < hi < 0.97  # 17 of 20: the 0.9 target is inside
    assert rate_intervals({"survival_rate": 1.0}) == {}  # no count, no interval


def test_tracking_reports_when_the_fallen_robots_fell(runner):
    """``fall_times_s``: one time per robot that fell, inside the episode, sorted; none for the survivors."""
    from maa_go2.agility import tracking

    out = tracking(runner, num_envs=6, seconds=2.0, seed=0, knobs={"payload_kg": 20.0, "torque_limit_scale": 0.3})
    times = out["fall_times_s"]
    assert len(times) == round((1.0 - out["survival_rate"]) * 6) and len(times) > 0
    assert times == sorted(times) and all(0.0 < t <= 2.0 for t in times)
