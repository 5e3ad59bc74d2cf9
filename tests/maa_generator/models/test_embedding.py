"""BehaviorEmbedding: stored normalizers, InfoNCE training, task clustering, errors."""

import numpy as np
import pytest
import torch

from maa_core.prompt import PromptError, success_prompt
from maa_generator.models.config import EmbeddingConfig
from maa_generator.models.embedding import BehaviorEmbedding

OBS, ACT, N, M = 4, 2, 8, 2
CFG = EmbeddingConfig(n_steps=N, m_states=M, hidden=[64], out_dim=16)


def _task_trajectories(rng, task, count, steps=20):
    """Point reaching towards a task-specific goal, with per-trajectory start/speed/noise."""
    goals = np.array([[1.0, 0.0, 0.5, -0.5], [-1.0, 0.5, 0.0, 0.5], [0.0, -1.0, -0.5, 0.0]])
    out = []
    for _ in range(count):
        x = rng.normal(scale=0.5, size=OBS)
        speed = rng.uniform(0.15, 0.3)
        obs, act, success = [], [], []
        for _ in range(steps):
            a = np.clip((goals[task] - x)[:ACT] * 2, -1, 1) + 0.05 * rng.normal(size=ACT)
            obs.append(x.copy())
            act.append(a)
            x = x + speed * (goals[task] - x) + 0.02 * rng.normal(size=OBS)
            success.append(np.linalg.norm(x - goals[task]) < 0.3)
        out.append(success_prompt(np.array(obs), np.array(act), np.array(success), N, M))
    h = torch.tensor(np.stack([p[0] for p in out]), dtype=torch.float32)
    v = torch.tensor(np.stack([p[1] for p in out]), dtype=torch.float32)
    return h, v


def _dataset(seed, per_task):
    rng = np.random.default_rng(seed)
    parts = [_task_trajectories(rng, k, per_task) for k in range(3)]
    h = torch.cat([p[0] for p in parts])
    v = torch.cat([p[1] for p in parts])
    labels = torch.arange(3).repeat_interleave(per_task)
    return h, v, labels


def test_shapes_and_normalizer_used_at_inference():
    emb = BehaviorEmbedding(OBS, ACT, CFG).eval()
    assert emb.cond_dim == 32 and (emb.h_dim, emb.v_dim) == (N * (OBS + ACT), M * OBS)
    h, v, _ = _dataset(0, 4)
    before = emb.embed(h, v)
    assert before.shape == (12, 32)
    emb.fit_normalizer(10 * h + 3, v)
    torch.testing.assert_close(emb.h_mean, (10 * h + 3).mean(0))
    # inference applies the stored normalizer: scaled inputs map to what the fresh model gave for raw ones
    scaled = BehaviorEmbedding(OBS, ACT, CFG).eval()
    scaled.load_state_dict(emb.state_dict())
    emb.fit_normalizer(h, v)
    torch.testing.assert_close(scaled.embed(10 * h + 3, v), emb.embed(h, v), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(emb.embed(h, v), before)
    # segmented prompts: mean of per-segment conditions
    hs, vs = torch.stack([h[:4], h[4:8]], 1), torch.stack([v[:4], v[4:8]], 1)
    torch.testing.assert_close(emb.embed(hs, vs), 0.5 * (emb.embed(h[:4], v[:4]) + emb.embed(h[4:8], v[4:8])))


def test_infonce_falls_and_tasks_cluster():
    torch.manual_seed(0)
    h, v, _ = _dataset(1, 24)
    emb = BehaviorEmbedding(OBS, ACT, CFG)
    emb.fit_normalizer(h, v)
    opt = torch.optim.Adam(emb.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        idx = torch.randperm(h.shape[0])[:32]
        loss, metrics = emb.loss(h[idx], v[idx])
        first = metrics["infonce"] if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    emb.eval()
    with torch.no_grad():
        final, metrics = emb.loss(h, v)
        th, tv, labels = _dataset(2, 10)  # held-out trajectories
        cond = emb.embed(th, tv)
    assert set(metrics) == {"infonce", "acc"}
    assert float(final) < 0.6 * first
    dist = torch.cdist(cond, cond)
    dist.fill_diagonal_(float("inf"))
    nn_acc = (labels[dist.argmin(1)] == labels).float().mean()
    assert nn_acc >= 0.9


def test_input_clip_and_constant_features():
    torch.manual_seed(0)
    h, v = torch.randn(32, N * (OBS + ACT)), torch.randn(32, M * OBS)
    h[:, 0] = 0.25  # constant on every training prompt
    plain = BehaviorEmbedding(OBS, ACT, CFG)
    robust = BehaviorEmbedding(OBS, ACT, EmbeddingConfig(n_steps=N, m_states=M, hidden=[64], out_dim=16,
                                                         input_clip=3.0, ignore_constant_features=True))
    robust.load_state_dict(plain.state_dict())
    for emb in (plain, robust):
        emb.fit_normalizer(h, v)
    assert plain.h_std[0] == pytest.approx(1e-3) and torch.isinf(robust.h_std[0])
    query_h, query_v = h[:2].clone(), v[:2].clone()
    query_h[:, 0] = 20.0  # an unseen task moves the constant coordinate: 20,000 floors out for `plain`
    query_h[1, 1] = 1e3
    hs, vs = robust.standardize(query_h, query_v)
    assert float(hs[:, 0].abs().max()) == 0.0 and float(hs.abs().max()) == 3.0
    assert float(plain.standardize(query_h, query_v)[0][0, 0]) == pytest.approx((20.0 - 0.25) / 1e-3, rel=1e-4)
    inside_h = h.mean(0, keepdim=True) + 0.5 * h.std(0, keepdim=True) * torch.tensor([0.0, 1.0]).repeat(
        h.shape[1] // 2)  # well inside the training range: both embed it identically
    inside_v = v.mean(0, keepdim=True)
    torch.testing.assert_close(robust.embed(inside_h, inside_v), plain.embed(inside_h, inside_v))
    with pytest.raises(Exception, match="input_clip must be a finite number >= 0"):
        EmbeddingConfig(input_clip=-1.0)


def test_errors():
    emb = BehaviorEmbedding(OBS, ACT, CFG)
    h, v = torch.zeros(3, emb.h_dim), torch.zeros(3, emb.v_dim)
    with pytest.raises(PromptError, match=f"expected trajectory prompt h of shape \\[B, {emb.h_dim}\\]"):
        emb.embed(torch.zeros(3, emb.h_dim + 1), v)
    with pytest.raises(PromptError, match="expected success prompt v of shape \\[3, 8\\]"):
        emb.embed(h, torch.zeros(2, emb.v_dim))
    bad = h.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(PromptError, match="non-finite"):
        emb.loss(bad, v)
    with pytest.raises(PromptError, match="at least 2"):
        emb.loss(h[:1], v[:1])
