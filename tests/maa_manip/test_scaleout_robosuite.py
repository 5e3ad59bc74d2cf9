"""Scale-out fallback (no Ray -> process pool) and the robosuite 41-d / 8-d layout."""
import logging

import numpy as np
import pytest

from maa_generator.data.zoo import Zoo
from maa_manip import scaleout
from maa_manip.config import CollectConfig, DaggerConfig
from maa_manip.jobs import all_jobs, open_writer


def test_pool_fallback_when_ray_missing(tmp_path, monkeypatch, caplog):
    cfg = CollectConfig(tasks=["reach"], seeds=[0, 1], episode_steps=20, store_episodes=0,
                        dagger=DaggerConfig(iterations=2, train_inits=1, random_inits=0, grad_steps=2))
    monkeypatch.setattr(scaleout, "ray_available", lambda: False)
    writer = open_writer(cfg, tmp_path)
    with caplog.at_level(logging.WARNING, logger="maa_manip.scaleout"):
        entries = scaleout.run_parallel(cfg, writer, all_jobs(cfg), workers=2, backend="auto")
    assert "falling back to a local process pool" in caplog.text
    assert sorted(e["name"] for e in entries) == ["reach__dagger-s0000", "reach__dagger-s0001"]
    assert Zoo.open(tmp_path).num_checkpoints == 4


def test_robosuite_layout_and_env():
    pytest.importorskip("robosuite")
    from maa_manip.robosuite_env import OBS_DIM, RobosuiteEnv, robosuite_sac_layout

    assert robosuite_sac_layout().num_params == 23952
    env = RobosuiteEnv("Lift", "Panda", init_seed=3, init_mode="fixed", max_steps=3)
    o1 = env.reset()
    assert o1.shape == (OBS_DIM,) and np.all(np.isfinite(o1))
    outs = [env.step(np.zeros(8)) for _ in range(3)]
    assert [o[2] for o in outs] == [False, False, True] and not any(o[3] for o in outs)
    np.testing.assert_allclose(env.reset(), o1, atol=1e-6)
