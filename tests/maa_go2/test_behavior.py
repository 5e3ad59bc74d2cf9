"""Behavior descriptors and the behavior-match score: synthetic gaits, degenerate input, the committed actor."""
import math
from pathlib import Path

import numpy as np
import pytest

from maa_go2 import behavior as B
from maa_go2 import behavior_obs as BO
from maa_go2 import behavior_rollout as BR
from maa_go2.commands import GAITS, NUM_COMMANDS, clock_inputs, foot_indices
from maa_go2.control import DEFAULT_JOINT_POS
from maa_go2.evaluation import sweep_commands
from maa_go2.observation import COMMAND_SCALES, OBS_DIM, OBS_SLICES

ROOT = Path(__file__).resolve().parents[2]
ACTOR = ROOT / "results" / "go2" / "actor_seed0_it475.safetensors"
ADAPTATION = ROOT / "results" / "go2" / "adaptation_module.safetensors"
DT = 0.02
#: lags of FR, RL, RR behind FL implied by commands.foot_indices (touchdown where a foot index wraps to 0)
EXPECTED_LAGS = {"trot": (0.5, 0.5, 0.0), "pronk": (0.0, 0.0, 0.0), "bound": (0.0, 0.5, 0.5),
                 "pace": (0.5, 0.0, 0.5)}


def gait_command(gait: str, freq: float = 3.0, vx: float = 0.5) -> np.ndarray:
    """One ``[15]`` command: ``gait`` at ``freq`` Hz, duty 0.5, swing 0.08 m, walking at ``vx``."""
    cmd = sweep_commands(1)[0][0]
    cmd[:3] = (vx, 0.0, 0.0)
    cmd[4] = freq
    cmd[5:8] = GAITS[gait]
    return cmd


def synthetic(gait: str, freq: float, seconds: float = 4.0, noise: float = 0.0, seed: int = 0) -> dict:
    """A rollout that follows the walk-these-ways schedule exactly (stance while foot index < 0.5): contact
    ``[T,4]``, foot heights with a 0.08 m sine swing above 0.02 m, base height 0.25 m, vx 0.5 m/s. ``noise`` [cycles]
    jitters each foot's clock per step (and the heights/velocities by proportional amounts)."""
    rng = np.random.default_rng(seed)
    steps = int(round(seconds / DT))
    cmd = np.tile(gait_command(gait, freq), (steps, 1))
    g = (np.arange(steps) * DT * freq + rng.uniform()) % 1.0
    idx = (foot_indices(g, cmd) + noise * rng.standard_normal((steps, 4))) % 1.0
    contact = idx < 0.5
    lift = np.where(contact, 0.0, 0.08 * np.sin(np.pi * (idx - 0.5) / 0.5))
    h = 0.02 + lift + 0.05 * noise * rng.standard_normal((steps, 4))
    vel = np.tile([0.5, 0.0, 0.0], (steps, 1)) + noise * rng.standard_normal((steps, 3))
    return {"contact": contact, "foot_height": h, "base_height": 0.25 + 0.1 * noise * rng.standard_normal(steps),
            "base_vel": vel, "yaw_rate": noise * rng.standard_normal(steps), "dt": DT}


def cyc(a: float, b: float) -> float:
    return B.descriptor_distance("offset_FR", a, b)


# ---------------------------------------------------------------------------------------------- descriptors
@pytest.mark.parametrize("gait", sorted(GAITS))
@pytest.mark.parametrize("freq", [2.0, 3.0, 4.0])
def test_synthetic_gaits_give_their_lags_frequency_and_heights(gait, freq):
    d = B.describe_rollout(**synthetic(gait, freq))
    assert d.step_frequency == pytest.approx(freq, abs=0.05)
    assert all(cyc(m, e) < 0.03 for m, e in zip(d.phase_offsets, EXPECTED_LAGS[gait])), d.phase_offsets
    assert min(d.phase_consistency) > 0.95
    assert d.duty_factor == pytest.approx(0.5, abs=0.05)
    assert d.swing_height == pytest.approx(0.08, abs=0.005)
    assert (d.body_height, d.forward_speed, d.lateral_speed, d.yaw_rate) == pytest.approx((0.25, 0.5, 0.0, 0.0))
    assert d.flags == ()


@pytest.mark.parametrize("gait", sorted(GAITS))
def test_commanded_lags_follow_the_foot_index_convention(gait):
    d = BO.describe_commands(gait_command(gait, 2.5))
    assert d.phase_offsets == pytest.approx(EXPECTED_LAGS[gait])
    assert d.step_frequency == 2.5 and d.duty_factor == 0.5 and d.swing_height == 0.08
    with pytest.raises(ValueError, match="commands"):
        BO.describe_commands(np.zeros(3))


def test_a_touchdown_lag_is_signed_fr_behind_fl():
    t = np.arange(200)
    contact = np.zeros((200, 4), bool)
    for k, lag in enumerate((0.0, 0.25, 0.5, 0.75)):  # period 20 steps, foot k lands lag cycles after FL
        contact[:, k] = ((t - lag * 20) % 20) < 10
    d = B.describe_rollout(contact, dt=DT)
    assert d.phase_offsets == pytest.approx((0.25, 0.5, 0.75), abs=1e-9)
    assert d.step_frequency == pytest.approx(2.5)


def test_contact_chatter_is_debounced():
    s = synthetic("trot", 3.0)
    chatter = s["contact"].copy()
    stance = np.flatnonzero(chatter[:, 0])
    chatter[stance[3::9], 0] = False  # one-step lift-offs inside FL's stance
    assert B.describe_rollout(**{**s, "contact": chatter}).step_frequency == pytest.approx(3.0, abs=0.05)
    no_debounce = B.describe_rollout(**{**s, "contact": chatter}, min_phase_s=0.0)
    assert no_debounce.step_frequency > 3.3  # the lift-offs count as steps without the filter


def test_batched_input_gives_one_descriptor_set_per_robot_and_a_circular_mean():
    runs = [synthetic("trot", 2.0), synthetic("pace", 4.0)]
    batch = {k: np.stack([r[k] for r in runs]) for k in runs[0] if k != "dt"}
    out = B.describe_rollout(**batch, dt=DT)
    assert [d.step_frequency for d in out] == [B.describe_rollout(**r).step_frequency for r in runs]
    mean = B.mean_descriptors([B.BehaviorDescriptors(phase_offsets=(0.95, 0.5, 0.1), step_frequency=2.0),
                               B.BehaviorDescriptors(phase_offsets=(0.05, 0.5, 0.3))])
    assert cyc(mean.phase_offsets[0], 0.0) < 1e-9 and mean.phase_offsets[2] == pytest.approx(0.2)
    assert mean.step_frequency == 2.0 and mean.source == "mean of 2"  # NaN skipped


# ---------------------------------------------------------------------------------------------- degenerate input
def test_standing_still_has_zero_frequency_full_stance_and_no_lags():
    d = B.describe_rollout(np.ones((100, 4), bool), foot_height=np.full((100, 4), 0.02), dt=DT)
    assert (d.step_frequency, d.duty_factor, d.swing_height) == (0.0, 1.0, 0.0)
    assert all(math.isnan(o) for o in d.phase_offsets)
    assert "no_touchdowns" in d.flags and "no_phase_reference" in d.flags
    assert math.isnan(d.body_height)  # not given


def test_airborne_and_empty_rollouts_are_flagged_not_raised():
    air = B.describe_rollout(np.zeros((100, 4), bool), foot_height=np.full((100, 4), 0.3), dt=DT)
    assert (air.step_frequency, air.duty_factor) == (0.0, 0.0) and math.isnan(air.swing_height)
    assert "no_swings" in air.flags
    empty = B.describe_rollout(np.full((50, 4), np.nan), dt=DT)
    assert empty.flags == ("nan_steps", "empty") and empty.available() == ()
    one = np.zeros((100, 4), bool)
    one[60:] = True  # a single touchdown per foot
    few = B.describe_rollout(one, dt=DT)
    assert few.step_frequency == pytest.approx(1 / (100 * DT)) and "few_touchdowns" in few.flags


def test_nan_steps_are_skipped_without_biasing_the_frequency():
    s = synthetic("bound", 3.0)
    s["base_height"][100:130] = np.nan
    d = B.describe_rollout(**s)
    assert "nan_steps" in d.flags and d.body_height == pytest.approx(0.25)
    assert d.step_frequency == pytest.approx(3.0, abs=0.05)
    assert all(cyc(m, e) < 0.03 for m, e in zip(d.phase_offsets, EXPECTED_LAGS["bound"]))


def test_a_foot_that_never_lands_gives_no_phase_reference():
    s = synthetic("trot", 3.0)
    s["contact"][:, 0] = True  # FL never lifts
    d = B.describe_rollout(**s)
    assert all(math.isnan(o) for o in d.phase_offsets) and "no_phase_reference" in d.flags
    assert d.step_frequency == pytest.approx(3.0, abs=0.05)  # the other feet still step


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="contact"):
        B.describe_rollout(np.ones((10, 3), bool))
    with pytest.raises(ValueError, match="base_vel"):
        B.describe_rollout(np.ones((10, 4), bool), base_vel=np.zeros((10, 2)))
    with pytest.raises(ValueError, match="dt"):
        B.describe_rollout(np.ones((10, 4), bool), dt=0.0)


# ---------------------------------------------------------------------------------------------- match score
def test_gaits_are_told_apart_and_noisy_copies_match():
    for f in (2.0, 3.0, 4.0):
        ref = {g: B.describe_rollout(**synthetic(g, f)) for g in GAITS}
        for g in GAITS:
            noisy = B.describe_rollout(**synthetic(g, f, noise=0.02, seed=7))
            assert B.behavior_match(ref[g], noisy) > 0.9, (g, f)
            for h in GAITS:
                if h != g:
                    assert B.behavior_match(ref[g], noisy) > 0.5 > B.behavior_match(ref[h], noisy), (g, h, f)


def test_contact_only_descriptors_still_tell_gaits_apart():
    only = {g: B.describe_rollout(synthetic(g, 3.0)["contact"], dt=DT) for g in GAITS}
    s = B.behavior_match(only["trot"], only["pace"])
    assert s < 0.5 and s.used == ("step_frequency", "duty_factor", *B.OFFSET_NAMES)


def test_score_is_in_unit_interval_symmetric_and_one_for_identical():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = (B.BehaviorDescriptors(rng.uniform(0, 5), rng.uniform(), tuple(rng.uniform(0, 1, 3)),
                                      body_height=rng.uniform(0.1, 0.4), yaw_rate=rng.normal())
                for _ in range(2))
        s = B.behavior_match(a, b)
        assert 0.0 <= s <= 1.0 and s == B.behavior_match(b, a)
        assert B.behavior_match(a, a) == 1.0


def test_score_formula_circular_lags_and_skipped_descriptors():
    a = B.BehaviorDescriptors(step_frequency=3.0, phase_offsets=(0.95, 0.5, 0.0), body_height=0.25)
    b = B.BehaviorDescriptors(step_frequency=3.5, phase_offsets=(0.05, 0.5, 0.0), swing_height=0.08)
    s = B.behavior_match(a, b)
    assert s.used == ("step_frequency", *B.OFFSET_NAMES)  # heights are known on one side only
    assert s == pytest.approx(math.exp(-(1.0 + 1.0) / 4))  # 0.5 Hz = 1 scale, 0.95 vs 0.05 = 0.1 cycle = 1 scale
    assert s.similarity["offset_FR"] == pytest.approx(math.exp(-1))
    w = B.behavior_match(a, b, weights={"step_frequency": 0.0}, scales={"offset_FR": 0.2})
    assert w.used == B.OFFSET_NAMES and w == pytest.approx(math.exp(-0.25 / 3))
    assert math.isnan(B.behavior_match(B.BehaviorDescriptors(), a)) and B.behavior_match(a, B.BehaviorDescriptors(
        )).used == ()
    with pytest.raises(ValueError, match="scales"):
        B.behavior_match(a, b, scales={"step_frequency": 0.0})
    with pytest.raises(ValueError, match="unknown"):
        B.behavior_match(a, b, weights={"speed": 1.0})


# ---------------------------------------------------------------------------------------------- observations
def synthetic_obs(gait: str, freq: float, seconds: float = 4.0) -> np.ndarray:
    """Observations ``[T, 70]`` of a gait: clock from the schedule, thigh/calf angles = one waveform per leg
    shifted by that leg's foot index, commands recorded."""
    steps = int(round(seconds / DT))
    cmd = np.tile(gait_command(gait, freq), (steps, 1))
    idx = foot_indices(np.arange(steps) * DT * freq % 1.0, cmd)
    obs = np.zeros((steps, OBS_DIM))
    obs[:, OBS_SLICES["clock"]] = clock_inputs(idx)
    obs[:, OBS_SLICES["commands"]] = cmd * COMMAND_SCALES
    q = np.zeros((steps, 4, 3))
    q[:, :, 1] = 0.25 * np.sin(2 * np.pi * idx)  # thigh swings
    q[:, :, 2] = -0.4 * np.clip(np.sin(2 * np.pi * (idx - 0.5)), 0, None)  # knee bends in swing (index > 0.5)
    obs[:, OBS_SLICES["dof_pos"]] = q.reshape(steps, 12)
    return obs


@pytest.mark.parametrize("gait", sorted(GAITS))
@pytest.mark.parametrize("source", ["clock", "joints"])
def test_observations_give_frequency_and_lags(gait, source):
    d = BO.describe_observations(synthetic_obs(gait, 3.5), dt=DT, source=source)
    assert d.step_frequency == pytest.approx(3.5, abs=0.05)
    assert all(cyc(m, e) < 0.02 for m, e in zip(d.phase_offsets, EXPECTED_LAGS[gait])), d.phase_offsets
    assert math.isnan(d.duty_factor) and math.isnan(d.forward_speed) and d.source == f"observations:{source}"
    cmd = BO.commands_of_observations(synthetic_obs(gait, 3.5))
    assert cmd.shape == (200, NUM_COMMANDS) and cmd[0] == pytest.approx(gait_command(gait, 3.5))


def test_still_observations_have_no_oscillation():
    obs = synthetic_obs("trot", 3.0)
    obs[:, OBS_SLICES["dof_pos"]] = 0.001 * np.random.default_rng(0).standard_normal((200, 12))
    d = BO.describe_observations(obs, dt=DT)
    assert d.step_frequency == 0.0 and "no_oscillation" in d.flags
    assert len(BO.describe_observations(np.stack([obs, obs]), dt=DT)) == 2
    with pytest.raises(ValueError, match="obs"):
        BO.describe_observations(np.zeros((10, 69)))


def test_leg_foot_position_matches_the_mjcf():
    import mujoco

    from maa_go2.engines.mujoco_engine import load_model

    m = load_model()
    data = mujoco.MjData(m)
    q = DEFAULT_JOINT_POS + np.random.default_rng(1).uniform(-0.4, 0.4, 12)
    q[0::3] = 0.0  # hips straight: the leg plane is the body's x-z plane
    data.qpos[:3], data.qpos[3:7], data.qpos[7:] = 0.0, (1, 0, 0, 0), q
    mujoco.mj_kinematics(m, data)
    xz = BO.leg_foot_position(q)
    for k, leg in enumerate(("FL", "FR", "RL", "RR")):
        rel = data.site(leg + "_foot").xpos - data.body(leg + "_thigh").xpos
        assert xz[k] == pytest.approx(rel[[0, 2]], abs=1e-6)


# ---------------------------------------------------------------------------------------------- committed actor
@pytest.fixture(scope="module")
def trot_rollout():
    from maa_core.weights_io import load_weights_file
    from maa_go2.checkpoints import load_adaptation
    from maa_go2.evaluation import ActorRunner

    w = load_weights_file(ACTOR)
    runner = ActorRunner(w.layout, w.flat, load_adaptation(ADAPTATION))
    return BR.rollout_descriptors(runner, gait_command("trot", 3.0, vx=0.5), seconds=4.0, num_envs=8, seed=0)


def test_committed_actor_trots_at_the_commanded_frequency(trot_rollout):
    r = trot_rollout
    assert r.alive.all() and (r.steps == 200).all() and len(r.per_env) == 8
    m = r.mean
    assert abs(m.step_frequency - 3.0) < 0.5
    assert all(cyc(o, e) < 0.15 for o, e in zip(m.phase_offsets, EXPECTED_LAGS["trot"])), m.phase_offsets
    assert min(m.phase_consistency) > 0.9  # the envs agree
    for d in r.per_env:
        assert abs(d.step_frequency - 3.0) < 0.5 and cyc(d.phase_offsets[2], 0.0) < 0.15, d
    assert 0.3 < m.duty_factor < 0.7 and 0.04 < m.swing_height < 0.12 and 0.15 < m.body_height < 0.3
    assert m.forward_speed == pytest.approx(0.5, abs=0.15)
    assert r.observed.step_frequency == pytest.approx(3.0, abs=0.1)  # what a prompt of it would show
    assert B.behavior_match(r.mean, r.observed) > 0.5 > B.behavior_match(r.mean, BO.describe_commands(
        gait_command("pace")), weights={"body_height": 0.0})


def test_observed_gait_reads_prompt_and_walk_alike_and_a_crouch_lowers_stance_height():
    from maa_go2.style_eval import observed_gait

    pronk = observed_gait(synthetic_obs("pronk", 3.0))
    trot = observed_gait(synthetic_obs("trot", 3.0))
    assert pronk["step_frequency"] == pytest.approx(3.0, abs=0.05)
    for fig, lags in ((pronk, EXPECTED_LAGS["pronk"]), (trot, EXPECTED_LAGS["trot"])):
        assert all(cyc(fig[f"lag_{leg}"], e) < 0.02 for leg, e in zip(("FR", "RL", "RR"), lags)), fig
    crouched = synthetic_obs("trot", 3.0)
    crouched[:, OBS_SLICES["dof_pos"]] += np.tile([0.0, 0.3, -0.6], 4)  # thighs forward, knees bent: a crouch
    assert observed_gait(crouched)["stance_height"] < trot["stance_height"] - 0.03
    assert 0.2 < trot["stance_height"] < 0.4  # the Go2's hip-to-foot depth near its stand pose [m]
    with pytest.raises(ValueError, match="obs must be"):
        observed_gait(np.zeros((3, OBS_DIM)))
