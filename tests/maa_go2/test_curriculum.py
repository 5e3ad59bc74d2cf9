"""The (vx, yaw) command curriculum and the shared command sampler both engines use."""
import numpy as np
import pytest

from maa_go2.commands import CommandRanges
from maa_go2.curriculum import CommandCurriculum, CommandSampler, CurriculumConfig

RANGES = CommandRanges(lin_vel_x=[-1.0, 1.5], ang_vel_yaw=[-1.5, 1.5], gaits=["trot", "pronk", "pace", "bound"])


def _cur(**kw):
    return CommandCurriculum(CurriculumConfig(enabled=True, **kw), RANGES.lin_vel_x, RANGES.ang_vel_yaw)


def test_starts_inside_the_initial_box_and_samples_only_there():
    cur = _cur(initial_vx=[-0.5, 0.75], initial_yaw=[-0.5, 0.5])
    s = cur.sample(np.random.default_rng(0), 5000)
    assert s[:, 0].min() >= -0.5 - 1e-9 and s[:, 0].max() <= 0.75 + 1e-9
    assert np.abs(s[:, 1]).max() <= 0.5 + 1e-9
    assert 0 < cur.coverage() < 0.2


def test_success_widens_to_the_neighbours_and_failure_does_not():
    cur = _cur(initial_vx=[-0.5, 0.75], initial_yaw=[-0.5, 0.5], step=1.0)
    before = cur.weights.copy()
    cur.update(np.array([0.6]), np.array([0.4]), lin_error=np.array([0.5]), yaw_error=np.array([0.1]))
    np.testing.assert_array_equal(cur.weights, before)  # lin error too large: nothing changes
    cur.update(np.array([0.6]), np.array([0.4]), lin_error=np.array([0.05]), yaw_error=np.array([0.1]))
    assert (cur.weights > before).any() and cur.weights.max() <= 1.0
    s = cur.sample(np.random.default_rng(1), 20000)
    assert s[:, 0].max() > 0.75 and s[:, 1].max() > 0.5  # the cells beyond the start box are now drawn


def test_repeated_success_covers_the_whole_box():
    cur = _cur(step=1.0)
    rng = np.random.default_rng(2)
    for _ in range(60):
        s = cur.sample(rng, 64)
        cur.update(s[:, 0], s[:, 1], np.zeros(64), np.zeros(64))
    assert cur.coverage() == 1.0


def test_state_round_trip_and_shape_check():
    cur = _cur(step=1.0)
    cur.update(np.array([1.4]), np.array([1.4]), np.zeros(1), np.zeros(1))
    other = _cur(step=1.0)
    other.load_state_dict(cur.state_dict())
    np.testing.assert_array_equal(other.weights, cur.weights)
    with pytest.raises(ValueError, match="cells"):
        _cur(cells_vx=4).load_state_dict(cur.state_dict())


def test_error_priority_draws_more_where_tracking_is_worse():
    """Two open cells: one tracked at the thresholds' sum 1.6, one at 0.2. With the whole draw prioritized the ratio
    of draws follows the errors (8:1); without priority the draws stay even and the errors change nothing."""
    # vx cells 3 and 4, yaw cell 6; the contact gate keeps the box from widening
    kw = dict(initial_vx=[-0.3, 0.2], initial_yaw=[0.1, 0.2], error_ema=1.0, min_contact_match=0.9)
    for priority, expected in ((1.0, 8.0), (0.0, 1.0)):
        cur = _cur(error_priority=priority, **kw)
        assert cur.weights.sum() == 2
        bad, good = (-0.2, 0.15), (0.1, 0.15)
        cur.update(np.array([bad[0], good[0]]), np.array([bad[1], good[1]]),
                   lin_error=np.array([0.16, 0.02]), yaw_error=np.array([0.24, 0.03]),  # 0.8 + 0.8, 0.1 + 0.1
                   contact_match=np.zeros(2))
        s = cur.sample(np.random.default_rng(3), 40000)
        ratio = (s[:, 0] < 0).sum() / (s[:, 0] >= 0).sum()
        assert ratio == pytest.approx(expected, rel=0.08)


def test_cell_error_is_smoothed_capped_and_kept_in_the_state():
    cur = _cur(error_priority=0.5, error_ema=0.5)
    np.testing.assert_array_equal(cur.cell_error, 1.0)  # before any segment: as if at the thresholds
    for _ in range(20):
        cur.update(np.array([0.0]), np.array([0.0]), lin_error=np.array([5.0]), yaw_error=np.array([5.0]))
    i, j = cur._cell_index(np.array([0.0]), np.array([0.0]))
    assert cur.cell_error[i, j] == pytest.approx(2.0, abs=1e-4)  # capped, however badly it tracks
    assert (cur.cell_error == 1.0).sum() == cur.cell_error.size - 1  # other cells untouched
    again = _cur(error_priority=0.5)
    again.load_state_dict(cur.state_dict())
    np.testing.assert_array_equal(again.cell_error, cur.cell_error)
    old = _cur(error_priority=0.5)
    old.load_state_dict({"weights": cur.weights})  # a checkpoint written before cell errors existed
    np.testing.assert_array_equal(old.cell_error, 1.0)
    with pytest.raises(ValueError, match="cell errors"):
        old.load_state_dict({"weights": cur.weights, "cell_error": np.ones(3)})


@pytest.mark.parametrize("kw, match", [({"cells_vx": 0}, "cells_vx"), ({"step": 0.0}, "step"),
                                       ({"initial_vx": [1.0, -1.0]}, "initial_vx"),
                                       ({"error_priority": 1.5}, "error_priority"), ({"error_ema": 0.0}, "error_ema")])
def test_config_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        CurriculumConfig(enabled=True, **kw)


def test_sampler_tracks_segments_and_updates_only_completed_ones():
    sampler = CommandSampler(RANGES, CurriculumConfig(enabled=True, step=1.0), np.random.default_rng(0), 4)
    cmd = sampler.sample(4)
    assert cmd.shape == (4, 15) and set(map(tuple, cmd[:, 5:8])) <= {(0.5, 0, 0), (0, 0, 0), (0, 0.5, 0), (0, 0, 0.5)}
    cmd[:, 0], cmd[:, 2] = 1.4, 1.4  # a corner cell outside the start box
    vel = np.zeros((4, 3))
    vel[:, 0], vel[:, 2] = 1.4, 1.4  # tracked perfectly
    before = sampler.curriculum.weights.copy()
    for _ in range(30):
        sampler.track(cmd, vel, vel)
    sampler.finish(np.arange(4), cmd, completed=False)  # a fall: no credit
    np.testing.assert_array_equal(sampler.curriculum.weights, before)
    for _ in range(30):
        sampler.track(cmd, vel, vel)
    sampler.finish(np.arange(4), cmd, completed=True)
    assert sampler.curriculum.weights[-1, -1] == 1.0 and (sampler.steps == 0).all()


def test_disabled_curriculum_is_uniform_over_the_ranges():
    sampler = CommandSampler(RANGES, CurriculumConfig(enabled=False), np.random.default_rng(0), 2)
    s = sampler.sample(20000)
    assert s[:, 0].min() < -0.9 and s[:, 0].max() > 1.4 and np.abs(s[:, 2]).max() > 1.4
    assert sampler.state_dict() == {}


@pytest.mark.parametrize("enabled", [True, False], ids=["curriculum", "uniform"])
def test_single_axis_fraction_keeps_one_velocity_axis_in_that_share_of_commands(enabled):
    ranges = CommandRanges(lin_vel_x=[-1.0, 1.5], ang_vel_yaw=[-1.5, 1.5], zero_below=0.0, single_axis_fraction=0.3)
    cfg = CurriculumConfig(enabled=enabled, initial_vx=[-1.0, 1.5], initial_yaw=[-1.5, 1.5])
    s = CommandSampler(ranges, cfg, np.random.default_rng(0), 2).sample(30000)
    zeros = (s[:, :3] == 0.0).sum(1)
    assert set(np.unique(zeros)) <= {0, 2}  # never one zero: a whole command or exactly one axis kept
    single = zeros == 2
    assert abs(single.mean() - 0.3) < 0.015
    kept = np.flatnonzero(s[single, :3])  # flat indices: row * 3 + axis
    assert np.all(np.bincount(kept % 3, minlength=3) > 0.3 * single.sum() - 300)  # vx, vy and yaw about equally
    assert np.abs(s[single, 0]).max() > 1.4 and np.abs(s[single, 2]).max() > 1.4  # the kept axis keeps its range
    plain = CommandSampler(CommandRanges(zero_below=0.0), cfg, np.random.default_rng(0), 2).sample(5000)
    assert not (plain[:, :3] == 0.0).any()


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_single_axis_fraction_must_be_a_fraction(bad):
    with pytest.raises(ValueError, match=r"single_axis_fraction: expected a fraction in \[0, 1\]"):
        CommandRanges(single_axis_fraction=bad)


def test_mujoco_engine_feeds_the_curriculum():
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.env_config import EnvConfig

    cfg = EnvConfig(num_envs=4, history_len=2, resampling_time_s=0.6, commands=RANGES,
                    curriculum=CurriculumConfig(enabled=True, max_lin_error=10.0, max_yaw_error=10.0, step=1.0))
    env = MujocoGo2Env(cfg, seed=0)
    before = env.sampler.curriculum.weights.copy()
    for _ in range(70):  # 30 steps per segment at 50 Hz; any tracking passes these thresholds
        env.step(np.zeros((4, 12)))
    assert (env.sampler.curriculum.weights > before).any()


def _gait_sampler(**kw):
    cfg = CurriculumConfig(enabled=True, gaits_initial=1, gait_contact_match=0.75, gait_ema=0.5, **kw)
    return CommandSampler(RANGES, cfg, np.random.default_rng(0), num_envs=8)


def _walk_segment(sampler, commands, match, steps=30):
    zero = np.zeros((len(commands), 3))
    for _ in range(steps):
        sampler.track(commands, zero, zero, np.full(len(commands), match))
    sampler.finish(np.arange(len(commands)), commands, completed=True)


def test_gait_curriculum_opens_the_next_gait_only_when_every_open_one_matches_its_schedule():
    from maa_go2.commands import GAITS

    s = _gait_sampler()
    c = s.sample(8)
    assert s.gaits_open() == 1 and np.all(c[:, 5:8] == GAITS["trot"])  # trot only at the start
    _walk_segment(s, c, match=0.6)
    assert s.gaits_open() == 1  # below the threshold: nothing opens
    for _ in range(4):
        _walk_segment(s, c, match=0.95)
    assert s.gaits_open() == 2  # one gait opens per update, in the listed order: pronk next
    c = s.sample(4000)
    seen = {tuple(row) for row in c[:, 5:8]}
    assert seen == {tuple(GAITS["trot"]), tuple(GAITS["pronk"])}
    pronk = np.all(c[:, 5:8] == GAITS["pronk"], axis=1)
    assert 0.4 < pronk.mean() < 0.6  # uniform over the open gaits
    # pronk has not been walked yet: trot matching alone does not open pace
    for _ in range(4):
        _walk_segment(s, c[~pronk][:8], match=0.95)
    assert s.gaits_open() == 2
    for _ in range(4):
        _walk_segment(s, c[pronk][:8], match=0.95)
    assert s.gaits_open() == 3


def test_gait_curriculum_state_survives_a_checkpoint_and_old_checkpoints_load():
    s = _gait_sampler()
    for _ in range(4):
        _walk_segment(s, s.sample(8), match=0.95)
    state = s.state_dict()
    assert int(state["gaits_open"]) == 2 and "weights" in state
    fresh = _gait_sampler()
    fresh.load_state_dict(state)
    assert fresh.gaits_open() == 2 and np.allclose(fresh.gaits.match, s.gaits.match)
    old = _gait_sampler()
    old.load_state_dict({"weights": state["weights"]})  # written before the gait curriculum existed
    assert old.gaits_open() == 1
    with pytest.raises(ValueError, match="gait_contact_match"):
        CurriculumConfig(gait_contact_match=1.5)
    # gaits_initial 0 or >= the number of gaits: all gaits from the start, as before
    assert CommandSampler(RANGES, CurriculumConfig(enabled=True), np.random.default_rng(0), 4).gaits is None


def test_step_frequency_stage_widens_after_its_env_steps_and_survives_a_checkpoint():
    ranges = CommandRanges(gait_frequency=[2.0, 4.0])
    cfg = CurriculumConfig(initial_gait_frequency=[2.5, 3.5], full_gait_frequency_after_env_steps=100)
    sampler = CommandSampler(ranges, cfg, np.random.default_rng(0), num_envs=10)
    staged = sampler.sample(4000)[:, 4]
    assert sampler.frequency_staged() and 2.5 <= staged.min() and staged.max() <= 3.5
    zeros = np.zeros((10, 3))
    for _ in range(10):  # 10 steps of 10 envs
        sampler.track(np.zeros((10, 15)), zeros, zeros)
    assert not sampler.frequency_staged()
    full = sampler.sample(4000)[:, 4]
    assert full.min() < 2.1 and full.max() > 3.9
    resumed = CommandSampler(ranges, cfg, np.random.default_rng(1), num_envs=10)
    assert resumed.frequency_staged()
    resumed.load_state_dict(sampler.state_dict())
    assert not resumed.frequency_staged() and resumed.env_steps == 100
    plain = CommandSampler(ranges, CurriculumConfig(), np.random.default_rng(0), num_envs=10)
    assert not plain.frequency_staged() and "env_steps" not in plain.state_dict()


@pytest.mark.parametrize("kw, match", [({"initial_gait_frequency": [3.5, 2.5]}, "initial_gait_frequency"),
                                       ({"initial_gait_frequency": [3.0]}, "initial_gait_frequency"),
                                       ({"full_gait_frequency_after_env_steps": -1}, "full_gait_frequency")])
def test_step_frequency_stage_config_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        CurriculumConfig(**kw)


def test_a_gait_stuck_below_the_threshold_opens_the_next_after_the_configured_wait():
    from maa_go2.commands import GAITS

    s = _gait_sampler(gait_open_after_env_steps=8 * 30 * 3)  # three 30-step segments of the 8 envs
    c = s.sample(8)
    for _ in range(2):
        _walk_segment(s, c, match=0.6)  # trot stays below 0.75
    assert s.gaits_open() == 1 and s.env_steps == 8 * 30 * 2
    _walk_segment(s, c, match=0.6)
    assert s.gaits_open() == 2 and s.gaits.opened_at == 8 * 30 * 3  # waited long enough: pronk opens anyway
    assert {tuple(r) for r in s.sample(400)[:, 5:8]} == {tuple(GAITS["trot"]), tuple(GAITS["pronk"])}
    _walk_segment(s, c, match=0.6)
    assert s.gaits_open() == 2  # the wait starts again at each opening
    state = s.state_dict()
    assert int(state["gait_opened_at"]) == 8 * 30 * 3 and int(state["env_steps"]) == 8 * 30 * 4
    resumed = _gait_sampler(gait_open_after_env_steps=8 * 30 * 3)
    resumed.load_state_dict(state)
    assert (resumed.gaits.opened_at, resumed.env_steps, resumed.gaits_open()) == (8 * 30 * 3, 8 * 30 * 4, 2)
    old = {k: v for k, v in state.items() if k != "gait_opened_at"}  # a checkpoint from before the record
    resumed.load_state_dict(old)
    assert resumed.gaits.opened_at == 8 * 30 * 4  # the wait starts at the resume, not at env step 0
    off = _gait_sampler()  # 0 (the default): only the contact match opens gaits
    for _ in range(10):
        _walk_segment(off, c, match=0.6)
    assert off.gaits_open() == 1
    with pytest.raises(ValueError, match="gait_open_after_env_steps"):
        CurriculumConfig(gait_open_after_env_steps=-1)


def test_min_contact_match_keeps_a_cell_closed_until_the_gait_is_walked():
    cur = _cur(initial_vx=[-0.5, 0.75], initial_yaw=[-0.5, 0.5], step=1.0, min_contact_match=0.7)
    before = cur.weights.copy()
    args = (np.array([0.6]), np.array([0.4]), np.array([0.05]), np.array([0.1]))
    cur.update(*args, contact_match=np.array([0.55]))  # tracked well, but off the contact schedule
    np.testing.assert_array_equal(cur.weights, before)
    cur.update(*args, contact_match=np.array([0.75]))
    assert (cur.weights > before).any()
    ungated = _cur(initial_vx=[-0.5, 0.75], initial_yaw=[-0.5, 0.5], step=1.0)  # 0 (default): tracking only
    ungated.update(*args, contact_match=np.array([0.1]))
    assert (ungated.weights > before).any()


def _track_segment(sampler, commands, match, steps=30):
    """A segment in which every env tracks its command exactly, with contact match ``match`` (scalar or [N])."""
    vel = np.asarray(commands)[:, :3]
    for _ in range(steps):
        sampler.track(commands, vel, vel, np.broadcast_to(match, len(commands)))
    sampler.finish(np.arange(len(commands)), commands, completed=True)


def _per_gait_sampler(**kw):
    cfg = CurriculumConfig(enabled=True, per_gait=True, step=1.0, **kw)
    return CommandSampler(RANGES, cfg, np.random.default_rng(0), num_envs=64)


def test_per_gait_grids_widen_only_with_their_own_gaits_segments():
    from maa_go2.commands import GAITS
    from maa_go2.curriculum import gait_index

    s = _per_gait_sampler(min_contact_match=0.7)
    trot = list(RANGES.gaits).index("trot")
    for _ in range(40):  # trot walks its schedule at every command it gets; the other gaits do not
        c = s.sample(64)
        _track_segment(s, c, match=np.where(gait_index(c, s.gait_table) == trot, 0.9, 0.5))
    cov = [grid.coverage() for grid in s.curriculum.grids]
    assert cov[trot] == 1.0 and max(c for k, c in enumerate(cov) if k != trot) < 0.2
    c = s.sample(4000)
    wide = np.abs(c[:, 0]) > 0.8
    assert np.all(np.abs(c[wide, 5:8] - GAITS["trot"]) < 1e-9)  # only trot is commanded beyond the start box
    assert s.curriculum.coverage() == pytest.approx(np.mean(cov))
    free = _per_gait_sampler(min_contact_match=0.7, ungated_gaits=["pace"])  # pace widens on tracking alone
    for _ in range(40):
        _track_segment(free, free.sample(64), match=0.5)
    cov = {g: grid.coverage() for g, grid in zip(RANGES.gaits, free.curriculum.grids)}
    assert cov["pace"] == 1.0 and max(cov["trot"], cov["pronk"], cov["bound"]) < 0.2


def test_per_gait_state_round_trip_and_loading_a_shared_grid():
    s = _per_gait_sampler()
    for _ in range(5):
        _track_segment(s, s.sample(64), match=0.9)
    state = s.state_dict()
    assert state["weights"].shape == (4, 10, 12)
    again = _per_gait_sampler()
    again.load_state_dict(state)
    for a, b in zip(again.curriculum.grids, s.curriculum.grids):
        np.testing.assert_array_equal(a.weights, b.weights)
    shared = _cur(step=1.0)  # a run without per_gait: its one grid, wide open
    shared.weights[:] = 1.0
    inherit = _per_gait_sampler(per_gait_restart=["pace", "bound"])
    inherit.load_state_dict(shared.state_dict())
    cov = {g: grid.coverage() for g, grid in zip(RANGES.gaits, inherit.curriculum.grids)}
    assert cov["trot"] == cov["pronk"] == 1.0 and cov["pace"] < 0.2 and cov["bound"] < 0.2
    with pytest.raises(ValueError, match="4 gaits"):
        CommandSampler(CommandRanges(gaits=["trot", "pace"]), CurriculumConfig(enabled=True, per_gait=True),
                       np.random.default_rng(0), 4).load_state_dict(state)


@pytest.mark.parametrize("kw, match", [({"min_contact_match": 1.5}, "min_contact_match"),
                                       ({"per_gait_restart": ["gallop"]}, "per_gait_restart"),
                                       ({"ungated_gaits": ["walk"]}, "ungated_gaits")])
def test_contact_gate_config_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        CurriculumConfig(**kw)
