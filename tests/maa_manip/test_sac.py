"""Batched SAC: shapes, actor layout, critic loss decrease, replay buffer, partial-run resume."""
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from maa_core.layout import metaworld_sac_layout
from maa_manip import sac
from maa_manip.config import CollectConfig, ConfigError, SacConfig
from maa_manip.jobs import run_name_for
from maa_manip.sac import BatchedSAC, Replay, SacState
from maa_manip.sac_resume import restore_trainer, trainer_state

torch.set_num_threads(1)


def test_batched_update_shapes_and_loss_decrease():
    torch.manual_seed(0)
    S = 3
    agent = BatchedSAC(SacConfig(), seeds=[0, 1, 2])
    assert agent.actor.shape == (S, metaworld_sac_layout().num_params)
    buf = Replay(S, 512, torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    buf.add(rng.normal(size=(S, 256, 39)), rng.uniform(-1, 1, (S, 256, 4)), rng.normal(size=(S, 256)),
            rng.normal(size=(S, 256, 39)))
    batch = buf.sample(128)
    assert batch["obs"].shape == (S, 128, 39) and batch["act"].shape == (S, 128, 4) and batch["rew"].shape == (S, 128)
    assert agent.act(rng.normal(size=(S, 2, 39))).shape == (S, 2, 4)
    before = agent.actor.detach().clone()
    losses = [agent.update(batch)["loss_q"] for _ in range(60)]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert not torch.equal(before, agent.actor.detach())


def test_seeds_are_independent():
    """Agent i's update must not depend on agent j's data: same seed + same data -> same result."""
    a = BatchedSAC(SacConfig(), seeds=[5, 6])
    b = BatchedSAC(SacConfig(), seeds=[5, 6])
    g = torch.Generator().manual_seed(1)
    batch = {"obs": torch.randn(2, 16, 39, generator=g), "next_obs": torch.randn(2, 16, 39, generator=g),
             "act": torch.rand(2, 16, 4, generator=g) * 2 - 1, "rew": torch.randn(2, 16, generator=g)}
    batch_b = {k: v.clone() for k, v in batch.items()}
    batch_b["obs"][1] += 10.0  # only agent 1's data differs
    torch.manual_seed(0)
    a.update(batch)
    torch.manual_seed(0)
    b.update(batch_b)
    # agent 0's critic must be identical in both runs
    for pa, pb in zip(a.q.parameters(), b.q.parameters()):
        torch.testing.assert_close(pa[0], pb[0])
        torch.testing.assert_close(pa[2], pb[2])  # twin critic of agent 0 lives at group S + 0 = 2


def tiny_cfg(**sac_kw) -> CollectConfig:
    s = dict(total_steps=300, num_seeds=2, random_steps=50, batch_size=32, hidden=32, test_every=100,
             ckpt_every=100, ckpt_min_success=0.0, partial_every=100)
    s.update(sac_kw)
    return CollectConfig(collector="sac", tasks=["reach"], seeds=[0], episode_steps=40, store_episodes=1,
                         sac=SacConfig(**s))


class Bar:
    """Progress stand-in recording ``update`` amounts; raises KeyboardInterrupt (a kill) once ``kill_at`` steps
    are counted."""

    def __init__(self, kill_at: int | None = None):
        self.calls: list[int] = []
        self.kill_at = kill_at

    def update(self, n: int = 1) -> None:
        self.calls.append(n)
        if self.kill_at is not None and sum(self.calls) >= self.kill_at:
            raise KeyboardInterrupt("simulated kill")


def partial_of(root: Path) -> Path:
    """The partial-checkpoint path that ``jobs.write_result`` deletes for job (reach, 0)."""
    assert run_name_for(tiny_cfg(), 0) == "sac-s0000"
    return root / "partial" / "reach__sac-s0000.pt"


def test_trainer_state_round_trip_continues_identically():
    cfg = SacConfig(hidden=32, batch_size=16)

    def fresh() -> SacState:
        gen = torch.Generator().manual_seed(3)
        return SacState(BatchedSAC(cfg, [3, 4]), Replay(2, 64, gen), gen, np.random.default_rng(3))

    rng = np.random.default_rng(0)
    a = fresh()
    a.buf.add(rng.normal(size=(2, 40, 39)), rng.uniform(-1, 1, (2, 40, 4)), rng.normal(size=(2, 40)),
              rng.normal(size=(2, 40, 39)))
    for _ in range(3):
        a.agent.update(a.buf.sample(16))
    a.step, a.updates = 40, 3
    raw = io.BytesIO()
    torch.save(trainer_state(a), raw)
    snap = torch.load(io.BytesIO(raw.getvalue()), weights_only=True)
    assert snap["replay"]["obs"].shape == (2, 40, 39) and snap["replay"]["obs"].dtype == torch.float32
    b = fresh()
    restore_trainer(b, snap)
    assert (b.step, b.updates, b.buf.n, b.buf.i) == (40, 3, 40, 40)
    for st in (a, b):  # same generators, same global noise -> bit-identical next update
        torch.manual_seed(0)
        st.agent.update(st.buf.sample(16))
    torch.testing.assert_close(a.agent.actor, b.agent.actor, rtol=0, atol=0)
    for pa, pb in zip(a.agent.q_targ.parameters(), b.agent.q_targ.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert a.rng.uniform() == b.rng.uniform()


def test_interrupted_job_resumes_from_partial_checkpoint(tmp_path):
    cfg = tiny_cfg()
    torch.manual_seed(0)
    full = sac.run_sac_job("reach", 0, cfg)  # uninterrupted, no root: no partial files
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):  # killed at step 250: last partial checkpoint is step 200
        sac.run_sac_job("reach", 0, cfg, tmp_path, progress=Bar(kill_at=250))
    blob = torch.load(partial_of(tmp_path), weights_only=True)
    assert blob["trainer"]["step"] == 200 and blob["trainer"]["replay"]["n"] == 200
    assert blob["trainer"]["updates"] == 200 - 50 + 1
    assert [m["step"] for m in blob["rows"]["meta"]] == [100, 100, 200, 200]
    saved_params = np.stack(blob["rows"]["params"])
    np.testing.assert_array_equal(saved_params, full.params[:4])  # checkpointing does not perturb the run

    bar = Bar()
    res = sac.run_sac_job("reach", 0, cfg, tmp_path, progress=bar)
    assert bar.calls == [200] + [1] * 100  # resumed at step 200, ran the last 100 steps
    assert res.params.shape == full.params.shape == (6, metaworld_sac_layout().num_params)
    assert res.meta["step"] == full.meta["step"] == [100, 100, 200, 200, 300, 300]
    assert res.meta["seed"] == full.meta["seed"]
    np.testing.assert_array_equal(res.params[:4], saved_params)
    np.testing.assert_array_equal(res.h[:4], np.stack(blob["rows"]["h"]))
    assert not np.array_equal(res.params[4:], res.params[2:4])  # training went on after the resume


@pytest.fixture(scope="module")
def partial_file(tmp_path_factory):
    """A partial checkpoint at step 100 of a 150-step ``tiny_cfg`` job."""
    root = tmp_path_factory.mktemp("sac_partial")
    with pytest.raises(KeyboardInterrupt):
        sac.run_sac_job("reach", 0, tiny_cfg(total_steps=150), root, progress=Bar(kill_at=120))
    assert partial_of(root).is_file()
    return partial_of(root)


def _copy_to(src, root):
    partial_of(root).parent.mkdir(parents=True)
    shutil.copy(src, partial_of(root))
    return partial_of(root)


def test_partial_checkpoint_of_other_config_is_rejected(partial_file, tmp_path):
    _copy_to(partial_file, tmp_path)
    with pytest.raises(ValueError, match=r"seeds: file \[0, 1\] != config \[0, 1, 2\].*delete the file"):
        sac.run_sac_job("reach", 0, tiny_cfg(total_steps=150, num_seeds=3), tmp_path)
    with pytest.raises(ValueError, match=r"buffer_capacity: file 150 != config 64"):
        sac.run_sac_job("reach", 0, tiny_cfg(total_steps=150, buffer_size=64), tmp_path)
    with pytest.raises(ValueError, match=r"hidden: file 32 != config 16"):
        sac.run_sac_job("reach", 0, tiny_cfg(total_steps=150, hidden=16), tmp_path)


def test_truncated_partial_checkpoint_names_the_file(partial_file, tmp_path):
    path = _copy_to(partial_file, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=re.escape(str(path)) + r" is unreadable \(truncated or corrupt"):
        sac.run_sac_job("reach", 0, tiny_cfg(total_steps=150), tmp_path)


def test_partial_every_is_validated():
    with pytest.raises(ConfigError, match="partial_every"):
        SacConfig(partial_every=0)
