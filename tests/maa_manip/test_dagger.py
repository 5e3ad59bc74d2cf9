"""DAgger collector: learning signal, prompt extraction, resumable jobs, the robosuite domain."""
from pathlib import Path

import numpy as np
import pytest

from maa_core.layout import metaworld_sac_layout
from maa_generator.data.zoo import Zoo
from maa_manip import dagger
from maa_manip.config import CollectConfig, ConfigError, DaggerConfig, load_collect_config
from maa_manip.jobs import open_writer, pending_jobs, run_serial


def tiny_cfg(**dagger_kw) -> CollectConfig:
    d = dict(iterations=5, train_inits=1, random_inits=1, grad_steps=80, noise_levels=[0.0], partial_every=2)
    d.update(dagger_kw)
    return CollectConfig(tasks=["reach"], seeds=[0], episode_steps=120, store_episodes=1, dagger=DaggerConfig(**d))


@pytest.fixture(scope="module")
def reach_run():
    return dagger.run_dagger("reach", 0, tiny_cfg())


def test_dagger_improves_over_untrained_policy(reach_run):
    succ = np.asarray(reach_run.meta["success"])
    assert reach_run.meta["step"][0] == 0  # first checkpoint is the untrained actor
    assert succ[-2:].mean() > succ[0]
    assert succ[-2:].mean() >= 0.5
    assert reach_run.params.shape == (5, metaworld_sac_layout().num_params)
    assert set(reach_run.meta["collector"]) == {"dagger_expert"}


def test_prompt_matches_own_rollout(reach_run):
    obs, act, suc = (reach_run.traj[k][-1, 0] for k in ("traj_obs", "traj_act", "traj_success"))
    h, v = reach_run.h[-1], reach_run.v[-1]
    assert h.shape == (60 * 43,) and v.shape == (3 * 39,)
    np.testing.assert_allclose(h.reshape(60, 43)[:, :39], obs[:60])
    np.testing.assert_allclose(h.reshape(60, 43)[:, 39:], act[:60])
    first = int(np.argmax(suc))
    assert suc[first]
    np.testing.assert_allclose(v.reshape(3, 39), obs[first + 1:first + 4])


def test_resume_skips_finished_shards_and_partial_runs(tmp_path, monkeypatch):
    cfg = tiny_cfg(iterations=4, grad_steps=5)
    cfg.episode_steps = 40
    writer = open_writer(cfg, tmp_path)
    calls = {"n": 0}
    real_train = dagger._train

    def crashing_train(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated crash")
        return real_train(*a, **k)

    monkeypatch.setattr(dagger, "_train", crashing_train)
    with pytest.raises(KeyboardInterrupt):
        run_serial(cfg, writer, pending_jobs(cfg, writer))
    assert (tmp_path / "partial" / "reach__dagger-s0000.pt").is_file()
    monkeypatch.setattr(dagger, "_train", real_train)
    run_serial(cfg, writer, pending_jobs(cfg, writer))
    assert not (tmp_path / "partial" / "reach__dagger-s0000.pt").exists()
    zoo = Zoo.open(tmp_path)
    assert zoo.num_checkpoints == 4
    assert [m["iteration"] for m in zoo.metadata] == [0, 1, 2, 3]
    writer2 = open_writer(cfg, tmp_path)
    assert pending_jobs(cfg, writer2) == []


def test_config_rejects_unknown_keys(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("tasks: [reach]\ndagger:\n  iterations: 3\n  bogus: 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        load_collect_config(p)
    with pytest.raises(ConfigError, match="collector"):
        CollectConfig(collector="ppo")


def _collect_lift(config: str, root: Path, steps: int, iterations: int):
    """Collect a tiny Lift zoo with a robosuite config into ``root`` -> (config, zoo)."""
    overrides = ["seeds=[0]", f"episode_steps={steps}", "store_episodes=1", "tasks=[Lift]",
                 f"dagger.iterations={iterations}", "dagger.random_inits=0", "dagger.grad_steps=5"]
    cfg = load_collect_config(Path(__file__).resolve().parents[2] / "config" / config, overrides)
    writer = open_writer(cfg, root)
    run_serial(cfg, writer, pending_jobs(cfg, writer))
    return cfg, Zoo.open(root)


def test_robosuite_domain_collects_a_robosuite_zoo(tmp_path):
    pytest.importorskip("robosuite")
    from maa_manip.robosuite_env import robosuite_sac_layout

    cfg, zoo = _collect_lift("robosuite_dagger.yaml", tmp_path, 30, 2)
    assert cfg.domain == "robosuite" and cfg.robot == "Panda" and cfg.control == "osc"
    assert zoo.domain == "robosuite" and zoo.layout == robosuite_sac_layout("osc") and zoo.tasks == ["Lift"]
    assert zoo.num_checkpoints == 2 and [m["iteration"] for m in zoo.metadata] == [0, 1]
    traj = zoo.trajectories()
    assert traj["traj_obs"].shape == (2, 1, 30, 25) and traj["traj_act"].shape == (2, 1, 30, 7)
    h, v = zoo.prompts()
    assert h.shape == (2, 60 * 32) and v.shape == (2, 3 * 25)


def test_robosuite_joint_config_collects_the_joint_layout(tmp_path):
    pytest.importorskip("robosuite")
    from maa_manip.robosuite_env import robosuite_sac_layout

    cfg, zoo = _collect_lift("robosuite_dagger_joint.yaml", tmp_path, 10, 1)
    assert cfg.control == "joint"
    assert zoo.layout == robosuite_sac_layout("joint") and zoo.trajectories()["traj_obs"].shape == (1, 1, 10, 41)


def test_robosuite_domain_config_errors():
    with pytest.raises(ConfigError, match="DAgger collector only"):
        CollectConfig(domain="robosuite", collector="sac")
    with pytest.raises(ConfigError, match="domain must be"):
        CollectConfig(domain="isaac")
    with pytest.raises(ConfigError, match="robot must be"):
        CollectConfig(domain="robosuite", robot="UR5e")
    with pytest.raises(ConfigError, match="control must be 'osc' or 'joint', got 'ik'"):
        CollectConfig(domain="robosuite", control="ik")
    from maa_manip.envs import EnvError
    from maa_manip.jobs import all_jobs

    with pytest.raises(EnvError, match="unknown robosuite task 'lift'"):
        all_jobs(CollectConfig(domain="robosuite", tasks=["lift"]))
