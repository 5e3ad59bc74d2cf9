"""Prompt novelty: bank fitting, scores in and out of distribution, storage next to a generator, errors."""

import math

import pytest
import torch

from maa_generator.data.checkpoint import CheckpointError
from maa_generator.data.novelty import NOVELTY_FILE, NoveltyReference
from maa_generator.models.generator import Generator
from tests.maa_generator.models.test_generator import CFG, SMALL, _traj


def _clusters(n_per=200, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = 10 * torch.randn(3, dim, generator=g)
    return torch.cat([c + torch.randn(n_per, dim, generator=g) for c in centers]), centers


def test_in_distribution_scores_about_one_and_outliers_high():
    train, centers = _clusters()
    ref = NoveltyReference.fit(train, max_rows=256, seed=0)
    assert ref.bank.shape == (256, 8)
    held_out, _ = _clusters(seed=0)  # same clusters, new draws from the same centers
    fresh = centers[:, None] + torch.randn(3, 50, 8, generator=torch.Generator().manual_seed(5))
    inside = ref.score(fresh.reshape(-1, 8))
    assert 0.5 < float(inside.median()) < 2.0
    far = ref.score(torch.stack([centers.mean(0) + 30.0, -centers[0]]))
    assert bool((far > 5 * inside.median()).all())


def test_save_load_and_errors(tmp_path):
    ref = NoveltyReference.fit(torch.randn(50, 4))
    ref.save(tmp_path)
    back = NoveltyReference.load(tmp_path)
    torch.testing.assert_close(back.bank, ref.bank)
    assert back.scale == pytest.approx(ref.scale)
    assert NoveltyReference.load(tmp_path / "nowhere") is None
    data = (tmp_path / NOVELTY_FILE).read_bytes()
    (tmp_path / NOVELTY_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="unreadable novelty reference"):
        NoveltyReference.load(tmp_path)
    with pytest.raises(ValueError, match=r"shape \[B, 4\]"):
        ref.score(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"\[N >= 2, E\]"):
        NoveltyReference.fit(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="finite"):
        NoveltyReference(torch.full((3, 4), float("nan")), 1.0)


def test_generator_reports_novelty_after_a_round_trip(tmp_path):
    torch.manual_seed(0)
    gen = Generator.build(SMALL, CFG)
    assert gen.generate(_traj(0))[0].prompt_novelty is None  # no bank: unknown, not zero
    trajs = [_traj(i) for i in range(12)]
    h, v = gen.prompts(trajs)
    gen.embedding.fit_normalizer(h, v)
    with torch.no_grad():
        gen.novelty = NoveltyReference.fit(gen.embedding.embed(h, v))
    gen.save(tmp_path / "g")
    loaded = Generator.load(tmp_path / "g")
    same = loaded.generate(trajs[:2], num_candidates=2)
    assert [p.prompt_novelty for p in same][0] == same[1].prompt_novelty  # per prompt, shared by its candidates
    assert all(math.isfinite(p.prompt_novelty) and p.prompt_novelty < 0.01 for p in same)  # prompts in the bank
    other = _traj(99)
    with torch.no_grad():
        expected = float(loaded.novelty.score(loaded.embedding.embed(*loaded.prompts([other])))[0])
    assert loaded.generate(other)[0].prompt_novelty == pytest.approx(expected) and expected > 0.01
    NoveltyReference.fit(torch.randn(10, 3)).save(tmp_path / "g")
    with pytest.raises(CheckpointError, match="novelty bank has condition width 3"):
        Generator.load(tmp_path / "g")
