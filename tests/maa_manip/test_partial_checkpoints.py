"""DAgger and SAC partial-run checkpoints: pickle-free (weights_only=True) round trips, old files refused."""
import numpy as np
import pytest
import torch

from maa_core.layout import metaworld_sac_layout
from maa_manip import dagger, sac_resume
from maa_manip.actor import new_actor
from maa_manip.config import SacConfig
from maa_manip.sac import BatchedSAC, Replay, SacState

torch.set_num_threads(1)


def _dagger_objects(seed: int):
    net = new_actor(metaworld_sac_layout(), seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    return net, opt, np.random.default_rng(seed), torch.Generator().manual_seed(seed)


def _dagger_state(rng) -> dagger._State:
    st = dagger._State(iteration=2, grad_steps=160, env_steps=480)
    st.data_obs = [rng.normal(size=(5, 39)).astype(np.float32) for _ in range(2)]
    st.data_act = [rng.uniform(-1, 1, (5, 4)).astype(np.float32) for _ in range(2)]
    c = st.ckpts
    c["params"].append(rng.normal(size=22664).astype(np.float32))
    c["h"].append(rng.normal(size=8).astype(np.float32))
    c["v"].append(rng.normal(size=3).astype(np.float32))
    c["meta"].append({"seed": 0, "step": 80, "collector": dagger.COLLECTOR, "success": 0.5, "success_random": None,
                      "noise": np.float64(0.1)})
    c["tsuc"].append(np.array([[False, True]]))
    return st


def test_dagger_partial_round_trips_weights_only(tmp_path):
    net, opt, rng, gen = _dagger_objects(0)
    net(torch.zeros(1, 39)).sum().backward()
    opt.step()
    rng.normal(size=7)
    torch.rand(3, generator=gen)
    st = _dagger_state(np.random.default_rng(5))
    path = tmp_path / "partial" / "reach__dagger-s0000.pt"
    dagger._save_partial(path, st, net, opt, rng, gen)
    assert torch.load(path, weights_only=True)["format"] == dagger.PARTIAL_FORMAT
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left

    net2, opt2, rng2, gen2 = _dagger_objects(1)
    back = dagger._load_partial(path, net2, opt2, rng2, gen2)
    assert (back.iteration, back.grad_steps, back.env_steps) == (2, 160, 480)
    for a, b in zip(st.data_obs + st.data_act, back.data_obs + back.data_act):
        assert isinstance(b, np.ndarray) and b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    for k in ("params", "h", "v", "tsuc"):
        np.testing.assert_array_equal(np.stack(st.ckpts[k]), np.stack(back.ckpts[k]))
    assert back.ckpts["meta"] == [{**st.ckpts["meta"][0], "noise": 0.1}] and back.ckpts["tobs"] == []
    for p1, p2 in zip(net.parameters(), net2.parameters()):
        torch.testing.assert_close(p1, p2, rtol=0, atol=0)
    assert opt2.state_dict()["state"][0]["step"] == 1
    assert rng2.uniform() == rng.uniform()
    assert torch.equal(torch.rand(3, generator=gen2), torch.rand(3, generator=gen))


def test_dagger_old_or_broken_partial_is_refused(tmp_path):
    net, opt, rng, gen = _dagger_objects(0)
    old = tmp_path / "old.pt"
    st = _dagger_state(np.random.default_rng(0))
    torch.save({"state": st.__dict__, "net": net.state_dict(), "opt": opt.state_dict(),
                "rng": rng.bit_generator.state, "gen": gen.get_state()}, old)  # the pre-fix format (numpy inside)
    with pytest.raises(ValueError, match=r"older maa version.*delete the file"):
        dagger._load_partial(old, net, opt, rng, gen)
    dagger._save_partial(old, st, net, opt, rng, gen)
    old.write_bytes(old.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"old.pt is unreadable \(truncated or corrupt"):
        dagger._load_partial(old, net, opt, rng, gen)


def _sac_state(seed: int) -> SacState:
    gen = torch.Generator().manual_seed(seed)
    return SacState(BatchedSAC(SacConfig(hidden=32, batch_size=16), [3, 4]), Replay(2, 64, gen), gen,
                    np.random.default_rng(seed))


def test_sac_partial_round_trips_weights_only(tmp_path):
    rng = np.random.default_rng(0)
    a = _sac_state(3)
    a.buf.add(rng.normal(size=(2, 40, 39)), rng.uniform(-1, 1, (2, 40, 4)), rng.normal(size=(2, 40)),
              rng.normal(size=(2, 40, 39)))
    a.agent.update(a.buf.sample(16))
    a.step, a.updates = 40, 1
    rows = {"params": [rng.normal(size=5).astype(np.float32)], "h": [rng.normal(size=4).astype(np.float32)],
            "v": [rng.normal(size=2).astype(np.float32)], "tsuc": [np.array([[True, False]])],
            "meta": [{"seed": 3, "step": 40, "collector": "sac", "success": 1.0, "init_seed": 3000}],
            "tobs": [], "tact": []}
    sig = {"task": "reach", "seeds": [3, 4], "num_params": 5, "hidden": 32, "envs_per_seed": 1, "buffer_capacity": 64}
    path = sac_resume.partial_path(tmp_path, "reach", "sac-s0000")
    sac_resume.save_partial(path, sig, sac_resume.trainer_state(a), rows, np.array([True, False]))
    assert torch.load(path, weights_only=True)["format"] == sac_resume.FORMAT
    assert [p.name for p in path.parent.iterdir()] == [path.name]

    blob = sac_resume.load_partial(path, sig)
    assert isinstance(blob["reached"], np.ndarray) and blob["reached"].tolist() == [True, False]
    for k in ("params", "h", "v", "tsuc"):
        np.testing.assert_array_equal(np.stack(blob["rows"][k]), np.stack(rows[k]))
        assert isinstance(blob["rows"][k][0], np.ndarray)
    assert blob["rows"]["meta"] == rows["meta"] and blob["rows"]["tobs"] == []
    blob["rows"]["params"].append(np.zeros(5, np.float32))  # sac.run_sac_job keeps appending to the rows
    blob["reached"] |= np.array([False, True])
    b = _sac_state(9)
    sac_resume.restore_trainer(b, blob["trainer"])
    assert (b.step, b.updates, b.buf.n) == (40, 1, 40) and b.rng.uniform() == a.rng.uniform()
    torch.testing.assert_close(b.agent.actor, a.agent.actor, rtol=0, atol=0)


def test_sac_pickled_partial_of_older_version_is_refused(tmp_path):
    path = tmp_path / "p.pt"
    torch.save({"format": 1, "signature": {}, "trainer": {}, "rows": {"params": [np.zeros(3)]},
                "reached": np.array([True])}, path)  # the pre-fix format: numpy arrays need unpickling
    with pytest.raises(ValueError, match=r"older maa version.*delete the file to start the job over"):
        sac_resume.load_partial(path, {})
    torch.save({"format": 1, "signature": {}, "trainer": {}, "rows": {}, "reached": torch.ones(1)}, path)
    with pytest.raises(ValueError, match="not a SAC partial checkpoint of format 2"):
        sac_resume.load_partial(path, {})
