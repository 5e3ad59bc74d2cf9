"""Tiny PPO run with checkpoints/resume, evaluation keys, zoo collection, Isaac Gym backend wiring."""
import json

import numpy as np
import pytest

from maa_core.config import ConfigError, from_dict
from maa_core.weights_io import WeightsError, load_weights_file, save_weights_file
from maa_go2.actor_critic import go2_actor_layout
from maa_go2.checkpoints import load_adaptation
from maa_go2.train import train
from maa_go2.train_config import Go2TrainConfig, load_train_config

TINY = {"iterations": 2, "save_interval": 1, "env": {"num_envs": 6, "history_len": 3},
        "ppo": {"steps_per_env": 6, "epochs": 1, "minibatches": 2}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("go2run")
    cfg = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(d)})
    train(cfg, progress=False)
    return d, cfg


def test_actor_layout_size():
    lay = go2_actor_layout()
    assert lay.num_params == 70924 and lay.activation == "elu" and lay.output == "linear"
    assert lay.num_params - (77 * 256 + 256) == 50956  # the paper's 256->128->128->12 part


def test_train_checkpoints_and_resume(run):
    d, cfg = run
    assert (d / "checkpoints/ckpt_00002.pt").is_file()
    actor = load_weights_file(d / "actors/actor_00002.safetensors")
    layout, flat, meta = actor.layout, actor.flat, actor.extra
    assert layout == go2_actor_layout() and meta["iteration"] == 2 and np.all(np.isfinite(flat))
    assert meta == {"iteration": 2, "seed": cfg.seed, "history_len": 3, "engine": "mujoco"}
    first = load_weights_file(d / "actors/actor_00001.safetensors").flat
    assert not np.array_equal(first, flat)  # parameters were updated
    cfg.iterations = 3
    summary = train(cfg, progress=False)  # resumes at iteration 2
    assert summary["iterations"] == 3 and json.loads((d / "summary.json").read_text())["iterations"] == 3
    assert load_adaptation(d / "adaptation/adaptation_00003.safetensors").history_len == 3


def test_bad_files_and_config(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\x00\x01truncated")
    with pytest.raises(WeightsError, match="cannot read policy weights file"):
        load_weights_file(bad)
    y = tmp_path / "c.yaml"
    y.write_text("train:\n  iterashuns: 3\n")
    with pytest.raises(ValueError, match="iterashuns"):
        load_train_config(y)
    with pytest.raises(ValueError):
        save_weights_file(tmp_path / "a.safetensors", go2_actor_layout(), np.zeros(5))


def test_evaluate_actor_returns_documented_keys(run):
    from maa_go2.evaluation import RESULT_KEYS, evaluate_actor

    d, _ = run
    actor = load_weights_file(d / "actors/actor_00002.safetensors")
    res = evaluate_actor(actor.layout, actor.flat, load_adaptation(d / "adaptation/adaptation_00002.safetensors"),
                         seconds=1.5, num_envs=3, seed=0, push_seconds=0.5)
    assert set(RESULT_KEYS) <= set(res)
    assert 0.0 <= res["survival_rate"] <= 1.0 and res["vx_error"] >= 0.0


def test_collect_writes_zoo_shard(run, tmp_path):
    from maa_go2.collect import CollectConfig, collect

    d, _ = run
    cfg = CollectConfig(runs=[str(d)], adaptation=str(d / "adaptation/adaptation_00002.safetensors"),
                        out=str(tmp_path / "zoo"), seconds=0.6, n=4, m=2, segments=2)
    names = collect(cfg)
    assert len(names) == 1
    shard = next((tmp_path / "zoo/shards").iterdir())
    assert np.load(shard / "params.npy").shape[1] == 70924
    assert np.load(shard / "h.npy").shape[1:] == (2, 4 * 82)
    assert np.load(shard / "v.npy").shape[1:] == (2, 2 * 70)
    meta = json.loads((shard / "shard.json").read_text())["meta"]
    k = len(meta["step"])
    assert len(meta["behavior"]) == k and len(meta["vx_error"]) == k and len(meta["yaw_error"]) == k
    for row, vx in zip(meta["behavior"], meta["vx_error"]):  # descriptors measured in the prompt's rollout
        assert set(row) >= {"step_frequency", "duty_factor", "offset_FR", "body_height", "swing_height", "flags"}
        assert row["body_height"] is None or 0.05 < row["body_height"] < 0.5
        assert vx is None or vx >= 0.0


def test_gait_recorder_cuts_each_robot_at_its_first_fall():
    from maa_go2.behavior_rollout import GaitRecorder

    rec = GaitRecorder(2)
    for t in range(6):
        info = {"fell": np.array([False, t == 2]), "foot_force": np.full((2, 4), 30.0 if t % 2 else 0.0),
                "foot_height": np.full((2, 4), 0.02), "base_height": np.full(2, 0.3),
                "base_lin_vel": np.array([[0.5, 0, 0], [0.5, 0, 0]]), "base_ang_vel": np.zeros((2, 3)),
                "commands": np.array([[1.0] + [0.0] * 14, [0.5] + [0.0] * 14])}
        rec.add(info)
    a = rec.arrays()
    assert a["contact"].shape == (2, 6, 4) and np.isnan(a["base_height"][1, 2:]).all()
    assert np.isfinite(a["base_height"][0]).all() and list(rec.alive) == [True, False]
    err = rec.tracking_errors()
    np.testing.assert_allclose(err["vx_error"], [0.5, 0.0])
    described = rec.describe()
    assert "fell" in described[1].flags and "fell" not in described[0].flags


def test_isaacgym_backend_uses_shared_definitions():
    from maa_go2 import control, rewards
    from maa_go2.engines import isaacgym_go2
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, Go2WTWCfgPPO

    cfg, ppo = Go2WTWCfg(), Go2WTWCfgPPO()
    assert cfg.env.num_observations == 70 and cfg.env.num_privileged_obs == 7
    assert cfg.control.stiffness["joint"] == control.KP and cfg.control.damping["joint"] == control.KD
    assert cfg.control.action_scale == 0.25 and cfg.control.decimation == 4 and cfg.sim.dt == 0.005
    assert list(cfg.init_state.default_joint_angles.values()) == list(control.DEFAULT_JOINT_POS)
    assert isaacgym_go2.cfg_members(cfg.rewards.scales) == rewards.DEFAULT_SCALES
    assert isaacgym_go2.cfg_members(cfg.commands.ranges)["lin_vel_x"] == [-1.0, 1.0]
    assert ppo.policy.actor_hidden_dims == list(go2_actor_layout().hidden)
    assert isaacgym_go2.Go2WTW.reward_functions_shared is rewards.REWARD_FUNCTIONS
    if not isaacgym_go2.HAVE_ISAACGYM:
        with pytest.raises(ImportError, match="isaacgym"):
            isaacgym_go2.Go2WTW(cfg, None, None, "cpu", True)


def test_config_presets_parse():
    from dataclasses import replace
    from pathlib import Path

    from maa_go2.collect import load_collect_config

    root = Path(__file__).resolve().parents[2] / "config"
    tiny = load_train_config(root / "go2_tiny.yaml")
    assert tiny.iterations <= 10 and tiny.env.num_envs <= 32
    main = load_train_config(root / "go2_train.yaml")
    assert main.env.commands.lin_vel_x == [-1.0, 1.0] and main.env.episode_length_s == 20.0
    assert load_collect_config(root / "go2_collect.yaml", ["collect.every=5"]).every == 5
    # go2_dense.yaml is go2_train.yaml (its base) with a checkpoint every iteration
    dense = load_train_config(root / "go2_dense.yaml")
    assert dense == replace(main, seed=3, iterations=300, save_interval=1, run_dir="runs/go2_seed3_dense",
                            adaptation_init="results/go2/adaptation_module.safetensors")
    with pytest.raises(ConfigError, match=r"go2_tiny\.yaml: override 'train\.env\.num_envz=3': train\.env: unknown"):
        load_train_config(root / "go2_tiny.yaml", ["train.env.num_envz=3"])


def test_evaluate_actor_rejects_wrong_layout():
    from maa_core.layout import PolicyLayout
    from maa_go2.actor_critic import AdaptationModule
    from maa_go2.evaluation import evaluate_actor

    lay = PolicyLayout(obs_dim=70, action_dim=12, hidden=(8,), activation="elu", output="linear")
    with pytest.raises(ValueError, match="latent"):
        evaluate_actor(lay, np.zeros(lay.num_params, np.float32), AdaptationModule(2), seconds=2, num_envs=3)


def test_frozen_pretrained_adaptation_module_is_not_updated(run, tmp_path):
    import torch

    d, _ = run
    pre = d / "adaptation/adaptation_00002.safetensors"
    cfg = from_dict(Go2TrainConfig,
                    {**TINY, "iterations": 1, "run_dir": str(tmp_path / "r"), "adaptation_init": str(pre)})
    train(cfg, progress=False)
    a, b = load_adaptation(pre), load_adaptation(tmp_path / "r/adaptation/adaptation_00001.safetensors")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_training_flushes_denormals_so_late_updates_do_not_slow_down(run):
    """``run`` trained through ``run_ppo``, which turns on flushing: a float32 denormal (1e-39) now reads as 0.
    (Denormals had slowed the agility run's PPO updates 2.2-2.6x by iteration 2150.)"""
    import torch

    from maa_go2.ppo_loop import flush_denormals

    try:
        assert torch.tensor([1e-39], dtype=torch.float32).item() == 0.0
        assert torch.tensor([2e-38], dtype=torch.float32).item() > 0.0  # normal numbers are kept
        torch.set_flush_denormal(False)
        assert torch.tensor([1e-39], dtype=torch.float32).item() > 0.0
        assert flush_denormals()
        assert torch.tensor([1e-39], dtype=torch.float32).item() == 0.0
    finally:
        torch.set_flush_denormal(True)


@pytest.mark.parametrize("adaptation_epochs, expected_steps", [(None, 6), (1, 2)])
def test_adaptation_module_steps_only_in_its_epochs(adaptation_epochs, expected_steps):
    """``ppo.adaptation_epochs``: the adaptation module takes one step per minibatch of its first epochs only; the
    actor-critic still steps in every epoch."""
    import torch

    from maa_go2.actor_critic import ActorCritic
    from maa_go2.observation import OBS_DIM
    from maa_go2.ppo import PPO, RolloutStorage
    from maa_go2.randomization import PRIV_DIM
    from maa_go2.train_config import PPOConfig

    torch.manual_seed(0)
    steps, n, hist_len = 4, 8, 3
    ac = ActorCritic(hist_len)
    ppo = PPO(ac, PPOConfig(steps_per_env=steps, epochs=3, minibatches=2, adaptation_epochs=adaptation_epochs))
    st = RolloutStorage(steps, n, ac.layout.obs_dim, OBS_DIM, PRIV_DIM, hist_len * OBS_DIM)
    for _ in range(steps):
        obs, hist, priv = torch.randn(n, OBS_DIM), torch.randn(n, hist_len * OBS_DIM), torch.randn(n, PRIV_DIM)
        with torch.no_grad():
            a_in = ac.actor_input(obs, hist)
            dist = ac.distribution(a_in)
            act = dist.sample()
            st.add(actor_in=a_in, obs=obs, priv=priv, hist=hist, actions=act, logp=dist.log_prob(act).sum(-1),
                   values=ac.value(obs, priv), rewards=torch.rand(n), dones=torch.zeros(n))
    st.compute_returns(torch.zeros(n), 0.99, 0.95)
    counts = {"adapt": 0, "ac": 0}
    for name, opt in (("adapt", ppo.adapt_opt), ("ac", ppo.opt)):
        opt.register_step_post_hook(lambda *_, name=name: counts.__setitem__(name, counts[name] + 1))
    forwards = []
    ac.adaptation.register_forward_hook(lambda *_: forwards.append(1))
    before = [p.detach().clone() for p in ac.adaptation.parameters()]
    stats = ppo.update(st)
    assert counts == {"adapt": expected_steps, "ac": 6}
    assert len(forwards) == expected_steps  # not evaluated at all after its epochs
    assert any(not torch.equal(a, b) for a, b in zip(before, ac.adaptation.parameters()))
    assert np.isfinite(stats["adaptation_loss"]) and stats["adaptation_loss"] > 0
    ppo.train_adaptation = False  # a frozen (pretrained) module: its loss is reported, it never steps
    frozen = [p.detach().clone() for p in ac.adaptation.parameters()]
    assert ppo.update(st)["adaptation_loss"] > 0 and counts["adapt"] == expected_steps
    assert all(torch.equal(a, b) for a, b in zip(frozen, ac.adaptation.parameters()))
    with pytest.raises(ValueError, match="adaptation_epochs"):
        PPOConfig(epochs=3, adaptation_epochs=4)


@pytest.mark.parametrize("stagger", [True, False])
def test_episode_clocks_are_staggered_on_every_start_and_resume(tmp_path, monkeypatch, stagger):
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.env_config import staggered_episode_steps

    seeds, clocks = [], []
    real = MujocoGo2Env.stagger_episodes

    def spy(self, seed):
        real(self, seed)
        seeds.append(seed)
        clocks.append(self.episode_step.copy())

    monkeypatch.setattr(MujocoGo2Env, "stagger_episodes", spy)
    cfg = from_dict(Go2TrainConfig, {**TINY, "run_dir": str(tmp_path), "seed": 4, "stagger_episodes": stagger})
    train(cfg, progress=False)
    cfg.iterations = 3
    train(cfg, progress=False)  # resumes at iteration 2
    if not stagger:
        assert seeds == []
        return
    assert seeds == [4, 6]  # seed + the iteration training starts from
    max_steps = int(round(cfg.env.episode_length_s / 0.02))
    np.testing.assert_array_equal(clocks[1], staggered_episode_steps(6, max_steps, 6))
    assert len(set(clocks[0])) > 1 and clocks[0].max() < max_steps


def test_staggered_episode_steps_are_uniform_and_checked():
    from maa_go2.env_config import staggered_episode_steps

    steps = staggered_episode_steps(4096, 1000, 0)
    assert steps.dtype == np.int64 and steps.min() >= 0 and steps.max() < 1000
    assert abs(steps.mean() - 499.5) < 15 and np.array_equal(steps, staggered_episode_steps(4096, 1000, 0))
    with pytest.raises(ValueError, match="max_steps"):
        staggered_episode_steps(4, 0, 0)
