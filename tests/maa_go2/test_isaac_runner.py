"""One training algorithm for both engines: the project's PPO on the Isaac task (stand-in), same run layout, same zoo.

The runner (``maa_go2.engines.isaac_runner``) trains the project's actor-critic with the privileged critic input and
the adaptation module on the Isaac task's device tensors, and writes checkpoints the MuJoCo trainer resumes and the
zoo collection reads; it resumes MuJoCo checkpoints as well.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from maa_core.weights_io import load_weights_file
from maa_go2.actor_critic import ActorCritic, go2_actor_layout
from maa_go2.env_config import EnvConfig
from maa_go2.ppo import PPO, PPOConfig

from .isaac_standin import activate, make_task

HISTORY = 3


def tiny_config(run_dir, iterations=2, num_envs=8):
    from maa_go2.engines.isaac_runner import IsaacTrainConfig

    return IsaacTrainConfig(seed=1, iterations=iterations, save_interval=1, run_dir=str(run_dir),
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
    rows = [json.loads(line) for line in (run / "curve.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2] and rows[-1]["env_steps"] == 2 * 8 * 4

    actor = load_weights_file(run / "actors" / "actor_00002.safetensors")
    assert actor.layout == go2_actor_layout() and actor.layout.obs_dim == 77  # obs 70 + adaptation latent 7
    assert actor.extra["engine"] == "isaacgym" and actor.extra["history_len"] == HISTORY

    from maa_go2.checkpoints import load_adaptation
    from maa_go2.collect import list_actors
    from maa_go2.train import resume_checkpoint

    assert load_adaptation(run / "adaptation" / "adaptation_00002.safetensors").history_len == HISTORY
    assert [p.name for p in list_actors(run)] == ["actor_00001.safetensors", "actor_00002.safetensors"]
    ac = ActorCritic(HISTORY)
    state = resume_checkpoint(run / "checkpoints", ac, PPO(ac, cfg.ppo))  # the MuJoCo trainer resumes it
    assert state["iteration"] == 2
    flat = ac.layout.flatten({k: v for k, v in ac.actor.state_dict().items()})
    np.testing.assert_allclose(flat, actor.flat)


def test_runner_resumes_a_mujoco_run(tmp_path, isaac_env):
    from maa_go2.train import Go2TrainConfig, train

    make, runner = isaac_env
    cfg = tiny_config(tmp_path / "run", iterations=1, num_envs=4)
    train(Go2TrainConfig(**{f: getattr(cfg, f) for f in Go2TrainConfig.__dataclass_fields__}), progress=False)
    cfg.iterations = 2
    summary = runner.train_isaac(make(cfg), cfg, device="cpu", log=lambda *_: None)
    assert summary["iterations"] == 2
    rows = [json.loads(line) for line in (tmp_path / "run" / "curve.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2]


def test_resolved_configs_load_without_maa_core_config(tmp_path):
    """Python 3.8 path: a resolved ``train:`` YAML (what every run writes) builds the same config."""
    import dataclasses
    from pathlib import Path

    import yaml

    from maa_go2.engines.isaac_runner import IsaacTrainConfig, dataclass_from_plain, load_isaac_train_config
    from maa_go2.train import load_train_config

    composed = load_train_config(Path(__file__).resolve().parents[2] / "config" / "go2_agility.yaml")
    plain = {"train": dataclasses.asdict(composed)}
    assert dataclasses.asdict(dataclass_from_plain(IsaacTrainConfig, plain["train"])) == plain["train"]
    path = tmp_path / "resolved.yaml"
    path.write_text(yaml.safe_dump(plain))
    assert dataclasses.asdict(load_isaac_train_config(path)) == plain["train"]
    with pytest.raises(ValueError, match="unknown"):
        dataclass_from_plain(IsaacTrainConfig, {"env": {"num_env": 3}})


def test_update_runs_on_the_isaac_buffers_shapes():
    from maa_go2.engines.isaac_runner import time_update

    assert time_update(num_envs=64, steps=4, history_len=HISTORY) > 0
    st_device = torch.device("cpu")
    from maa_go2.engines.isaac_runner import device_storage

    st = device_storage(2, 3, 77, 70, 7, 210, st_device)
    assert st.hist.shape == (2, 3, 210) and st.hist.device == st_device


def test_command_line_registers_builds_and_trains(tmp_path, isaac_env):
    """``python -m maa_go2.engines.isaac_runner`` end to end: config, registration with legged_gym, make_env
    (legged_gym's own options pass through), training, run directory."""
    import dataclasses

    import yaml

    _, runner = isaac_env
    cfg = tiny_config(tmp_path / "cli_run", iterations=1)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"train": dataclasses.asdict(cfg)}))
    runner.main(["--config", str(path), "--num-envs", "3", "--rl_device", "cpu", "--sim_device", "cpu",
                 "--pipeline", "cpu", "--headless", "--no-resume"])
    summary = json.loads((tmp_path / "cli_run" / "summary.json").read_text())
    assert summary["num_envs"] == 3 and summary["iterations"] == 1 and summary["engine"] == "isaacgym"
